"""Retrieval accuracy of an embedder + catalog.

(a) cross-domain: each ground-truth article crop of a CCP split queries the whole catalog;
    category precision@1 and @5 (categories the catalog has).
(b) instance: each held-out catalog item is queried with a street-like view of itself
    (fixed seed; backgrounds from CCP ``tagged/`` photos the trainer never pasted on); Recall@1/@10.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from edge_bml.catalog.progress import Progress
from edge_bml.catalog.search import Catalog
from edge_bml.errors import CatalogError, ImageError
from edge_bml.evaluation.street_view import street_view
from edge_bml.image_io import read_image

QUERY_SIZE = 224
# Training pasted products on the first 300 tagged photos; queries use the next 100.
BACKGROUND_FILES = slice(300, 400)


def _crop(image: np.ndarray, box: list[float]) -> np.ndarray | None:
    x0, y0, x1, y1 = (int(round(v)) for v in box)
    h, w = image.shape[:2]
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(w, x1), min(h, y1)
    return image[y0:y1, x0:x1] if x1 - x0 >= 4 and y1 - y0 >= 4 else None


def category_precision(
    catalog: Catalog, embedder, ccp_dir: Path, *, split: str, limit: int | None = None
) -> dict[str, Any]:
    """Category precision@1/@5 of CCP ground-truth crops against the whole catalog.

    Raises:
        CatalogError: ``ccp_dir`` has no annotations.json.
    """
    path = ccp_dir / "annotations.json"
    if not path.is_file():
        raise CatalogError(f"{path} not found: --queries must be a CCP-format folder")
    images = [im for im in json.loads(path.read_text())["images"] if im["split"] == split][:limit]
    known = set(catalog.categories)
    hits1: dict[str, list[float]] = {}
    hits5: dict[str, list[float]] = {}
    progress = Progress(len(images), label=f"category queries ({split})")
    for image in images:
        objects = [o for o in image["objects"] if o["category"] in known]
        if objects:
            photo = read_image(ccp_dir / image["file"])
            crops = [(o["category"], _crop(photo, o["box"])) for o in objects]
            crops = [(c, crop) for c, crop in crops if crop is not None]
            vectors = embedder.embed([crop for _, crop in crops])
            for (category, _), matches in zip(crops, catalog.search_many(vectors, k=5), strict=True):
                found = [m.category for m in matches]
                hits1.setdefault(category, []).append(float(found[:1] == [category]))
                hits5.setdefault(category, []).append(sum(c == category for c in found) / 5)
        progress.update()
    progress.close()
    all1 = [v for values in hits1.values() for v in values]
    all5 = [v for values in hits5.values() for v in values]
    per_category = {
        c: {
            "queries": len(hits1[c]),
            "precision_at_1": round(float(np.mean(hits1[c])), 4),
            "precision_at_5": round(float(np.mean(hits5[c])), 4),
        }
        for c in sorted(hits1)
    }
    return {
        "category_precision_at_1": round(float(np.mean(all1)), 4) if all1 else None,
        "category_precision_at_5": round(float(np.mean(all5)), 4) if all5 else None,
        "per_category": per_category,
        "category_queries": len(all1),
    }


def instance_recall(
    catalog: Catalog, embedder, ccp_dir: Path, holdout: list[str], *, seed: int = 0, limit: int | None = None
) -> dict[str, Any]:
    """Recall@1/@10 of held-out items queried by a street-like view of themselves.

    Raises:
        CatalogError: a held-out id is not in the catalog, or its photo cannot be read.
    """
    rows = {row["id"]: row for row in catalog.products.values()}
    missing = [i for i in holdout if i not in rows]
    if missing:
        raise CatalogError(f"{len(missing)} held-out ids are not in the catalog, e.g. {missing[:3]}")
    backgrounds = [read_image(f) for f in sorted((ccp_dir / "tagged").glob("*.jpg"))[BACKGROUND_FILES]]
    ids = holdout[:limit]
    top1, top10 = [], []
    progress = Progress(len(ids), label="instance queries")
    for start in range(0, len(ids), 32):
        chunk = ids[start : start + 32]
        views = []
        for offset, item_id in enumerate(chunk):
            path = catalog.image_path(rows[item_id])
            if path is None:
                raise CatalogError(f"held-out item {item_id}: its photo is not in the catalog's image folder")
            try:
                photo = read_image(path)
            except ImageError as error:
                raise CatalogError(f"held-out item {item_id}: {error}") from error
            rng = np.random.default_rng([seed, start + offset])
            views.append(street_view(photo, rng=rng, backgrounds=backgrounds, size=QUERY_SIZE))
        for item_id, matches in zip(chunk, catalog.search_many(embedder.embed(views), k=10), strict=True):
            top1.append(float(matches.ids[:1] == [item_id]))
            top10.append(float(item_id in matches.ids))
        progress.update(len(chunk))
    progress.close()
    return {
        "instance_recall_at_1": round(float(np.mean(top1)), 4) if top1 else None,
        "instance_recall_at_10": round(float(np.mean(top10)), 4) if top10 else None,
        "instance_queries": len(top1),
    }


def read_holdout(path: Path) -> list[str]:
    """Held-out ids from a trainer's ``holdout_ids.json`` (``{"ids": [...]}``).

    Raises:
        CatalogError: the file is missing or has no id list.
    """
    if not path.is_file():
        raise CatalogError(f"held-out id list {path} not found (the trainer writes holdout_ids.json)")
    try:
        ids = json.loads(path.read_text())["ids"]
    except (json.JSONDecodeError, KeyError, TypeError) as error:
        raise CatalogError(f"{path}: no 'ids' list: {error}") from error
    return [str(i) for i in ids]


def record_retrieval(model, result: dict, dtype: str) -> None:
    """Keep the figures in the embedder's manifest (``metrics.retrieval``); checksums are unaffected."""
    import dataclasses

    from edge_bml.manifest import write_manifest

    figures = {k: v for k, v in result.items() if k != "embedder"}
    metrics = {**model.metrics, "retrieval": {**figures, "catalog_dtype": dtype}}
    write_manifest(dataclasses.replace(model, metrics=metrics))
