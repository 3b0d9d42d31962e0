"""Look-alike colour: are the products returned the colour of what is worn?

For each ground-truth article of a category the catalog sells, the garment's colour is the median
CIELAB of its own pixels (CCP's label map, inside its box); a product's colour is the median CIELAB
of its photo's foreground (stored in the catalog at build). The figure is the mean ΔE76 between the
garment and its top-5 matches (searched within its own category, as the look does), set against a
random product of that category (chance: the mean ΔE over the category) and the 5 products closest in
colour alone (oracle). ``lookalike_colour_ratio`` = ours / chance: 1 is no better than chance.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from edge_bml.catalog.build import product_view
from edge_bml.catalog.progress import Progress
from edge_bml.colour import delta_e, median_lab
from edge_bml.errors import CatalogError, EvaluationDataError
from edge_bml.image_io import read_image

TOP = 5


def _product_photo(catalog, row: dict) -> Path:
    path = catalog.image_path(row)
    if path is None:
        raise CatalogError(f"product {row['id']}: its photo {row.get('file')!r} is not in the catalog's image folder")
    return path


def catalog_colours(catalog) -> dict[str, tuple[np.ndarray, list[str]]]:
    """Per category: the products' colours ``(n, 3)`` and their ids; computed from the photos (the
    build's rule) where the catalog predates stored colours."""
    rows = list(catalog.products.values())
    missing = [row for row in rows if row.get("colour") is None]
    computed: dict[str, np.ndarray] = {}
    if missing:
        progress = Progress(len(missing), label="product colours")
        for row in missing:
            computed[row["id"]] = product_view(read_image(_product_photo(catalog, row)), fill=False)[1]
            progress.update()
        progress.close()
    by_category: dict[str, tuple[list, list]] = {}
    for row in rows:
        colour = row["colour"] if row.get("colour") is not None else computed[row["id"]]
        colours, ids = by_category.setdefault(row["category"], ([], []))
        colours.append(colour)
        ids.append(row["id"])
    return {c: (np.asarray(colours, np.float32), ids) for c, (colours, ids) in by_category.items()}


def garment_truth_colour(
    photo: np.ndarray, label_map: np.ndarray, label_ids: Sequence[int], box: Sequence[float]
) -> np.ndarray | None:
    """Median CIELAB of the garment's own pixels (its labels, inside its box); None if under 16 pixels."""
    x0, y0, x1, y1 = (int(round(v)) for v in box)
    h, w = label_map.shape
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
    region = np.isin(label_map[y0:y1, x0:x1], np.asarray(label_ids))
    return median_lab(photo[y0:y1, x0:x1], region)


def category_label_ids(annotations: dict) -> dict[str, list[int]]:
    """Each CCP category's fine-label indices (the pixel values of its garments in the label maps)."""
    return {c: [annotations["labels"].index(n) for n in names] for c, names in annotations["categories"].items()}


def read_label_map(ccp_dir: Path, image: dict) -> np.ndarray:
    """The CCP label map of one annotated image (pixel = index into ``labels``).

    Raises:
        EvaluationDataError: the file is missing or unreadable.
    """
    path = ccp_dir / image["label_map"]
    labels = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if labels is None:
        raise EvaluationDataError(f"{path}: missing or unreadable label map")
    return labels


class LookalikeScore:
    """Accumulates ΔE of matches, chance and oracle per query; ``result()`` gives the figures."""

    def __init__(self, colours: dict[str, tuple[np.ndarray, list[str]]]) -> None:
        self.colours = colours
        self._index = {c: {pid: i for i, pid in enumerate(ids)} for c, (_, ids) in colours.items()}
        self.rows: dict[str, list[tuple[float, float, float]]] = {}

    def add(self, category: str, truth: np.ndarray, match_ids: Sequence[str]) -> None:
        """One query: the garment's true colour and the ids of its top matches (of ``category``)."""
        palette, _ = self.colours[category]
        distances = delta_e(palette, truth)
        picked = [self._index[category][pid] for pid in match_ids[:TOP] if pid in self._index[category]]
        if not picked:
            return
        ours = float(distances[picked].mean())
        oracle = float(np.sort(distances)[:TOP].mean())
        self.rows.setdefault(category, []).append((ours, float(distances.mean()), oracle))

    def result(self) -> dict[str, Any]:
        def figures(values: list[tuple[float, float, float]]) -> dict[str, Any]:
            ours, chance, oracle = (float(np.mean(column)) for column in zip(*values))
            return {
                "queries": len(values),
                "lookalike_colour_de": round(ours, 2),
                "lookalike_colour_chance_de": round(chance, 2),
                "lookalike_colour_oracle_de": round(oracle, 2),
                "lookalike_colour_ratio": round(ours / chance, 3) if chance > 0 else None,
            }

        everything = [row for rows in self.rows.values() for row in rows]
        if not everything:
            return {"lookalike_colour_ratio": None, "lookalike_queries": 0, "lookalike_per_category": {}}
        overall = figures(everything)
        overall["lookalike_queries"] = overall.pop("queries")
        return {**overall, "lookalike_per_category": {c: figures(v) for c, v in sorted(self.rows.items())}}


def lookalike_queries(
    catalog, embedder, ccp_dir: Path, *, split: str, limit: int | None = None, parser=None
) -> list[dict]:
    """Every ground-truth article of ``split`` of a category the catalog sells, embedded and coloured as
    the look does (``article_view``: with ``parser``, run on the annotated person box, its mask gives the
    colour and masks the crop where the embedder wants it), with its true colour from the label map.

    Raises:
        EvaluationDataError: no annotations, or a label map is missing.
    """
    import json

    from edge_bml.stages.article_views import article_view

    path = ccp_dir / "annotations.json"
    if not path.is_file():
        raise EvaluationDataError(f"{path} not found: the queries must be a CCP-format folder")
    annotations = json.loads(path.read_text())
    label_ids = category_label_ids(annotations)
    images = [im for im in annotations["images"] if im["split"] == split][:limit]
    sold = set(catalog.categories)
    fill = bool(embedder.manifest.decoder.get("foreground_fill", False))
    queries: list[dict] = []
    progress = Progress(len(images), label=f"look-alike queries ({split})")
    for image in images:
        objects = [o for o in image["objects"] if o["category"] in sold]
        if objects:
            photo = read_image(ccp_dir / image["file"])
            labels = read_label_map(ccp_dir, image)
            parse = parser(photo, np.asarray(image["person_box"], np.float32)) if parser is not None else None
            found = []
            for obj in objects:
                view = article_view(photo, np.asarray(obj["box"], np.float32), obj["category"], parse=parse, fill=fill)
                truth = garment_truth_colour(photo, labels, label_ids[obj["category"]], obj["box"])
                if view is not None and truth is not None:
                    found.append({"category": obj["category"], "view": view, "truth": truth, "fine": obj["fine"]})
            if found:
                vectors = embedder.embed([q["view"].crop for q in found])
                for query, vector in zip(found, vectors, strict=True):
                    query.update(vector=vector, colour=query.pop("view").colour)
                queries.extend(found)
        progress.update()
    progress.close()
    return queries


def lookalike_figures(
    catalog, queries: list[dict], *, colour_weight: float | None, colours=None, kind_map=None
) -> dict[str, Any]:
    """The look-alike figures of ``queries`` searched within their category, top 5, at ``colour_weight``
    (None: the catalog's default), with the same-kind figures (``same_kind``) where ``kind_map`` is given."""
    from edge_bml.evaluation.same_kind import same_kind_score

    score = LookalikeScore(colours if colours is not None else catalog_colours(catalog))
    kinds, note = same_kind_score(catalog, kind_map) if kind_map is not None else (None, None)
    for query in queries:
        colour = query["colour"]
        matches = catalog.search(
            query["vector"], category=query["category"], k=TOP, colour=colour, colour_weight=colour_weight
        )
        score.add(query["category"], query["truth"], matches.ids)
        if kinds is not None:
            kinds.add(query["category"], query.get("fine", ()), matches.ids)
    weight = catalog.colour_weight if colour_weight is None else colour_weight
    same_kind = (
        kinds.result() if kinds is not None else ({"same_kind_at_5": None, "same_kind_note": note} if note else {})
    )
    return {"colour_weight": weight if catalog.has_colours else 0.0, **score.result(), **same_kind}
