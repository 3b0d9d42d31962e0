"""Pictures of results: skeletons and boxes drawn on the photo, written as PNG."""

from __future__ import annotations

import contextlib
from pathlib import Path

import cv2
import numpy as np

from edge_bml.errors import OutputFileError
from edge_bml.label_placement import face_box, place_labels
from edge_bml.stages.pose import SKELETON, PersonPose


def draw_pose(image: np.ndarray, pose: PersonPose, *, min_visibility: float = 0.5) -> np.ndarray:
    """A copy of the RGB ``image`` with the skeleton, visible landmarks and person box drawn."""
    canvas = image.copy()
    thickness = max(1, round(max(image.shape[:2]) / 400))
    xy = pose.keypoints[:, :2]
    seen = pose.visibility >= min_visibility
    for a, b in SKELETON:
        if seen[a] and seen[b]:
            start, end = tuple(int(v) for v in xy[a]), tuple(int(v) for v in xy[b])
            cv2.line(canvas, start, end, (0, 200, 255), thickness, cv2.LINE_AA)
    for index, point in enumerate(xy):
        colour = (255, 60, 60) if index % 2 else (60, 255, 60)
        if index == 0:
            colour = (255, 255, 0)
        colour = colour if seen[index] else (128, 128, 128)
        cv2.circle(canvas, tuple(int(v) for v in point), thickness * 2 + 1, colour, -1, cv2.LINE_AA)
    x0, y0, x1, y1 = (int(v) for v in pose.person_box)
    cv2.rectangle(canvas, (x0, y0), (x1, y1), (255, 0, 255), thickness)
    return canvas


def write_png(path: str | Path, rgb: np.ndarray) -> None:
    """Write an RGB image as PNG (or JPEG, WebP, BMP by the suffix), aside and then renamed into place.

    Raises:
        OutputFileError: the file cannot be written.
    """
    path = Path(path)
    suffix = path.suffix.lower() if path.suffix.lower() in (".jpg", ".jpeg", ".webp", ".bmp") else ".png"
    ok, data = cv2.imencode(suffix, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise OutputFileError(f"cannot encode the picture for {path}")
    write_atomically(path, data.tobytes())


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path`` and rename it into place.

    Raises:
        OutputFileError: the folder takes no new file, the disk is full, or ``path`` is a folder.
    """
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_bytes(data)
        tmp.replace(path)
    except OSError as error:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise OutputFileError(f"cannot write {path}: {error.strerror or error}") from None


PALETTE = (
    (230, 25, 75),
    (60, 180, 75),
    (255, 225, 25),
    (0, 130, 200),
    (245, 130, 48),
    (145, 30, 180),
    (70, 240, 240),
    (240, 50, 230),
    (210, 245, 60),
    (250, 190, 212),
    (0, 128, 128),
    (170, 110, 40),
)


def category_colour(category: str, categories: tuple[str, ...]) -> tuple[int, int, int]:
    """A stable colour per article category."""
    index = categories.index(category) if category in categories else sum(map(ord, category))
    return PALETTE[index % len(PALETTE)]


def draw_look(image: np.ndarray, look, *, categories: tuple[str, ...] = ()) -> np.ndarray:
    """A copy of the RGB ``image`` with the person box and each article's box and label."""
    canvas = image.copy()
    thickness = max(1, round(max(image.shape[:2]) / 300))
    if look.person_box is not None:
        x0, y0, x1, y1 = (int(v) for v in look.person_box)
        cv2.rectangle(canvas, (x0, y0), (x1, y1), (200, 200, 200), max(1, thickness // 2))
    scale = max(image.shape[:2]) / 1000
    font_scale = 0.5 * scale + 0.2
    labels, sizes = [], []
    for article in look.articles:
        colour = category_colour(article.category, categories)
        x0, y0, x1, y1 = (int(v) for v in article.box)
        cv2.rectangle(canvas, (x0, y0), (x1, y1), colour, thickness if article.shown else max(1, thickness // 2))
        label = f"{article.category} {article.score:.2f}" + ("" if article.shown else " (not shown)")
        (w, h), _ = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, font_scale, 1)
        labels.append((label, colour, h))
        sizes.append((w + 4, h + 6))
    face = face_box(look.keypoints)
    corners = place_labels(
        [a.box for a in look.articles], sizes, (image.shape[1], image.shape[0]), avoid=[face] if face else ()
    )
    for (label, colour, h), (w, box_h), (lx, ly) in zip(labels, sizes, corners, strict=True):
        x, y = int(lx), int(ly)
        cv2.rectangle(canvas, (x, y), (x + int(w), y + int(box_h)), colour, -1)
        cv2.putText(canvas, label, (x + 2, y + h + 2), cv2.FONT_HERSHEY_SIMPLEX, font_scale, (0, 0, 0), 1, cv2.LINE_AA)
    return canvas
