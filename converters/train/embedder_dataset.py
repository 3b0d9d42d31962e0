"""Training data for the article embedder: catalog items, the held-out split, CCP crops and backgrounds.

Catalog photos are small JPEGs kept as bytes in memory; CCP article crops and person-photo
backgrounds are decoded once and cached under ``/tmp/edge_bml_cache`` (never in the repository).
"""

from __future__ import annotations

import csv
import hashlib
import json
import pickle
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from edge_bml.errors import ImageError, ManifestError
from edge_bml.image_io import decode_image

CACHE_DIR = Path("/tmp/edge_bml_cache")
HOLDOUT_SEED = 5096


@dataclass(frozen=True)
class CatalogItem:
    """One product photo of the training catalog."""

    id: str
    file: Path
    category: str


def read_catalog_items(catalog_dir: Path) -> list[CatalogItem]:
    """Items of ``catalog_dir/items.csv`` (columns id, file, category), sorted by id.

    Raises:
        ManifestError: items.csv is missing or lacks a column.
    """
    path = catalog_dir / "items.csv"
    if not path.is_file():
        raise ManifestError(f"{path} not found: --catalog must be a folder with items.csv and images/")
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = {"id", "file", "category"} - set(reader.fieldnames or ())
        if missing:
            raise ManifestError(f"{path} lacks the column(s) {sorted(missing)}")
        items = [CatalogItem(row["id"], catalog_dir / row["file"], row["category"]) for row in reader]
    return sorted(items, key=lambda item: item.id)


def holdout_ids(items: list[CatalogItem], *, count: int = 500, seed: int = HOLDOUT_SEED) -> list[str]:
    """The ids kept out of training for the instance-retrieval evaluation (fixed by ``seed``)."""
    ids = sorted(item.id for item in items)
    order = np.random.default_rng(seed).permutation(len(ids))
    return sorted(ids[i] for i in order[: min(count, len(ids))])


def load_bytes(items: list[CatalogItem]) -> dict[str, bytes]:
    """The encoded photo of every item, by id; unreadable files are skipped."""
    out = {}
    for item in items:
        try:
            out[item.id] = item.file.read_bytes()
        except OSError:
            continue
    return out


def decode_rgb(data: bytes, name: str) -> np.ndarray | None:
    """Decoded RGB image, or None for a file that cannot be decoded."""
    try:
        return decode_image(data, name=name)
    except ImageError:
        return None


def _fit(image: np.ndarray, longest: int) -> np.ndarray:
    h, w = image.shape[:2]
    scale = longest / max(h, w)
    if scale >= 1:
        return image
    return cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)


def _cached(key: str, build):
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    path = CACHE_DIR / f"{key}.pkl"
    if path.is_file():
        try:
            with open(path, "rb") as handle:
                return pickle.load(handle)
        except (pickle.UnpicklingError, EOFError, AttributeError, ImportError):
            pass  # written by another version of this code (a class moved or changed): build it again
    value = build()
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as handle:
        pickle.dump(value, handle, protocol=pickle.HIGHEST_PROTOCOL)
    tmp.replace(path)
    return value


def ccp_article_crops(
    street_dir: Path, *, split: str, categories: set[str], limit: int | None = None
) -> list[tuple[str, np.ndarray]]:
    """(category, RGB crop) for every ground-truth article box of one CCP split, 10% context added.

    Raises:
        ManifestError: ``street_dir`` has no annotations.json.
    """
    path = street_dir / "annotations.json"
    if not path.is_file():
        raise ManifestError(f"{path} not found: --street must be the CCP folder (annotations.json, photos/)")
    images = [im for im in json.loads(path.read_text())["images"] if im["split"] == split][:limit]
    key = hashlib.sha1(f"crops|{street_dir.resolve()}|{split}|{sorted(categories)}|{limit}".encode()).hexdigest()[:16]

    def build() -> list[tuple[str, np.ndarray]]:
        crops = []
        for image in images:
            rgb = decode_rgb((street_dir / image["file"]).read_bytes(), image["file"])
            if rgb is None:
                continue
            for obj in image["objects"]:
                if obj["category"] in categories:
                    crops.append((obj["category"], _fit(crop_with_context(rgb, obj["box"], 0.1), 256)))
        return crops

    return _cached(f"ccp_crops_{key}", build)


def crop_with_context(image: np.ndarray, box: list[float], context: float) -> np.ndarray:
    """The box grown by ``context`` of its size on each side, clipped to the image."""
    x0, y0, x1, y1 = box
    dx, dy = (x1 - x0) * context, (y1 - y0) * context
    h, w = image.shape[:2]
    left, top = max(0, int(x0 - dx)), max(0, int(y0 - dy))
    right, bottom = min(w, int(np.ceil(x1 + dx))), min(h, int(np.ceil(y1 + dy)))
    return image[top : max(bottom, top + 1), left : max(right, left + 1)]


def street_backgrounds(street_dir: Path, *, count: int = 300) -> list[np.ndarray]:
    """Person photos from CCP ``tagged/`` (never used as queries), scaled to 320 px, to paste products on."""
    files = sorted((street_dir / "tagged").glob("*.jpg"))[:count]
    key = hashlib.sha1(f"bg|{street_dir.resolve()}|{count}".encode()).hexdigest()[:16]

    def build() -> list[np.ndarray]:
        out = []
        for file in files:
            rgb = decode_rgb(file.read_bytes(), file.name)
            if rgb is not None:
                out.append(_fit(rgb, 320))
        return out

    return _cached(f"backgrounds_{key}", build)
