"""A self-contained HTML page of one or more looks: photo, article boxes, product thumbnails, timings.

Everything is inlined (images as data URIs), so the page opens offline and can be mailed as one file.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path

import cv2
import numpy as np

from edge_bml.colour import hex_colour
from edge_bml.drawing import category_colour, write_atomically
from edge_bml.errors import ImageError
from edge_bml.image_io import MAX_FILE_BYTES, read_file_bounded
from edge_bml.label_placement import face_box, place_labels
from edge_bml.look import Look


def _data_uri(rgb: np.ndarray, *, max_side: int = 900) -> str:
    scale = min(1.0, max_side / max(rgb.shape[:2]))
    if scale < 1.0:
        rgb = cv2.resize(rgb, (round(rgb.shape[1] * scale), round(rgb.shape[0] * scale)), interpolation=cv2.INTER_AREA)
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85])
    if not ok:
        raise ValueError("cannot encode image")
    return "data:image/jpeg;base64," + base64.b64encode(data.tobytes()).decode()


def _thumbnail(path: Path) -> str:
    """A product photo as a JPEG data URI, or "" where it is no regular file (a FIFO, a device), unreadable,
    over the file limit or not a JPEG: a thumbnail never hangs or stops the page."""
    try:
        data = read_file_bounded(path, max_bytes=MAX_FILE_BYTES)
    except ImageError:
        return ""
    return "data:image/jpeg;base64," + base64.b64encode(data).decode() if data[:3] == b"\xff\xd8\xff" else ""


def _swatch(lab) -> str:
    """A small square of a CIELAB colour (the worn garment's, or a product's), or nothing."""
    if lab is None:
        return ""
    colour = hex_colour(lab)
    return f'<span class="swatch" style="background:{colour}" title="colour {colour}"></span>'


def look_section(look: Look, image: np.ndarray, *, catalog=None, categories: tuple[str, ...]) -> str:
    """One look as an HTML section; product thumbnails come from ``catalog`` (a ``Catalog``), where given."""
    height, width = image.shape[:2]
    boxes = []
    font = max(width, height) / 45
    sizes = [(0.6 * font * len(article.category) + font * 0.4, font * 1.3) for article in look.articles]
    face = face_box(look.keypoints)
    corners = place_labels([a.box for a in look.articles], sizes, (width, height), avoid=[face] if face else ())
    for article, (label_w, label_h), (lx, ly) in zip(look.articles, sizes, corners, strict=True):
        r, g, b = category_colour(article.category, categories)
        x0, y0, x1, y1 = (float(v) for v in article.box)
        boxes.append(
            f'<rect x="{x0:.0f}" y="{y0:.0f}" width="{x1 - x0:.0f}" height="{y1 - y0:.0f}" '
            f'fill="none" stroke="rgb({r},{g},{b})" stroke-width="{max(width, height) / 250:.1f}"/>'
            f'<rect x="{lx:.0f}" y="{ly:.0f}" width="{label_w:.0f}" height="{label_h:.0f}" fill="rgb({r},{g},{b})"/>'
            f'<text x="{lx + font * 0.2:.0f}" y="{ly + font:.0f}" fill="#fff" '
            f'font-size="{font:.0f}">{html.escape(article.category)}</text>'
        )
    rows = []
    for article in look.articles:
        cards = []
        for match in article.matches:
            path = catalog.image_path(match) if catalog is not None else None
            src = _thumbnail(path) if path is not None else ""
            img = f'<img src="{src}" alt="">' if src else '<div class="noimg"></div>'
            cards.append(
                f'<div class="card">{img}<div>{_swatch(match.colour)}{html.escape(match.title or match.id)}</div>'
                f"<small>{match.score:.3f}</small></div>"
            )
        notes = [article.note] if article.note else []
        if not article.shown:
            notes.append("not shown to shoppers: under its category's shown threshold or contradicted by a better box")
        note = "".join(f"<small>{html.escape(text)}</small>" for text in notes)
        rows.append(
            f'<div class="article"><h3>{_swatch(article.colour)}{html.escape(article.category)} '
            f'<small>{article.score:.2f}</small></h3>{note}<div class="cards">{"".join(cards)}</div></div>'
        )
    timings = " · ".join(f"{k} {v:.1f} ms" for k, v in look.timings_ms.items())
    status = html.escape(look.stopped) if look.stopped else f"{len(look.articles)} articles"
    return (
        f"<section><h2>{html.escape(Path(look.file or 'photo').name)}: {look.shot}, facing {look.facing or '-'}"
        f'</h2><p>{status}</p><div class=look><svg viewBox="0 0 {width} {height}">'
        f'<image href="{_data_uri(image)}" width="{width}" height="{height}"/>{"".join(boxes)}</svg>'
        f'<div class="articles">{"".join(rows)}</div></div><p class="timings">{timings}</p></section>'
    )


STYLE = """body{font-family:system-ui,sans-serif;margin:1em;background:#fafafa}
.look{display:flex;gap:1em;align-items:flex-start}svg{width:360px;flex:none}
.cards{display:flex;gap:.5em;overflow-x:auto}.card{width:110px;font-size:12px}
.card img,.noimg{width:110px;height:110px;object-fit:contain;background:#fff;border:1px solid #ddd}
.timings{color:#555;font-size:12px}h3{margin:.4em 0}
.swatch{display:inline-block;width:.9em;height:.9em;border:1px solid #888;border-radius:2px;margin-right:.3em;
vertical-align:-.1em}"""


def write_look_html(path: str | Path, sections: list[str], *, title: str = "edge_bml looks") -> None:
    """Write the sections as one page (atomically: a temporary file renamed into place).

    Raises:
        OutputFileError: the page cannot be written there.
    """
    path = Path(path)
    page = (
        f"<!doctype html><html><head><meta charset=utf-8><title>{html.escape(title)}</title>"
        f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>{''.join(sections)}</body></html>"
    )
    write_atomically(path, page.encode("utf-8"))
