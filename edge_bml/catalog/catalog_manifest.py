"""``catalog.json``: what a catalog folder holds and which embedder made its vectors."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from edge_bml.errors import CatalogError
from edge_bml.manifest import write_json_atomic

CATALOG_MANIFEST = "catalog.json"
PRODUCTS_FILE = "products.jsonl"
REPORT_FILE = "build_report.json"
SHARDS_DIR = "shards"
SCHEMA = 1


@dataclass(frozen=True)
class CatalogManifest:
    """Embedder identity, storage and counts of one catalog."""

    embedder_name: str
    embedder_sha256: str
    dims: int
    dtype: str
    metric: str
    counts: dict[str, int]
    built_at: str
    columns: dict[str, Any] = field(default_factory=dict)
    source: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    # How colour joins the ranking: {"space", "product_colour", "weight", "candidates"}; empty: not at all.
    colour: dict[str, Any] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def to_json(self) -> dict[str, Any]:
        return {"schema": SCHEMA, **asdict(self), "total": self.total}


def shard_path(directory: Path, category: str) -> Path:
    """Where one category's USearch index lives."""
    return directory / SHARDS_DIR / f"{category}.usearch"


def read_catalog_manifest(directory: str | Path) -> CatalogManifest:
    """Read and check ``catalog.json``.

    Raises:
        CatalogError: the folder is not a catalog or its manifest is damaged.
    """
    path = Path(directory) / CATALOG_MANIFEST
    if not path.is_file():
        raise CatalogError(
            f"{directory} is not a catalog: no {CATALOG_MANIFEST} (build one with `edge-bml catalog build`)"
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("schema") != SCHEMA:
            raise CatalogError(f"{path}: schema {data.get('schema')} is not supported (this edge_bml reads {SCHEMA})")
        return CatalogManifest(
            embedder_name=str(data["embedder_name"]),
            embedder_sha256=str(data["embedder_sha256"]),
            dims=int(data["dims"]),
            dtype=str(data["dtype"]),
            metric=str(data["metric"]),
            counts={str(k): int(v) for k, v in data["counts"].items()},
            built_at=str(data["built_at"]),
            columns=dict(data.get("columns", {})),
            source=dict(data.get("source", {})),
            metrics=dict(data.get("metrics", {})),
            colour=dict(data.get("colour", {})),
        )
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as error:
        raise CatalogError(f"{path}: damaged catalog manifest: {error}") from error


def write_catalog_manifest(directory: Path, manifest: CatalogManifest) -> None:
    """Write ``catalog.json`` atomically."""
    write_json_atomic(directory / CATALOG_MANIFEST, manifest.to_json())


def read_products_file(directory: Path) -> list[dict[str, Any]]:
    """The product rows of a catalog (one JSON object a line, each with its shard ``key``).

    Raises:
        CatalogError: the file is missing or damaged.
    """
    path = directory / PRODUCTS_FILE
    if not path.is_file():
        raise CatalogError(f"{directory}: {PRODUCTS_FILE} is missing; rebuild the catalog")
    try:
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except json.JSONDecodeError as error:
        raise CatalogError(f"{path}: damaged: {error}") from error


def product_row(key: int, product, colour) -> dict[str, Any]:
    """One line of ``products.jsonl``: shard key, id, category, title, file, extra and garment colour (CIELAB)."""
    return {
        "key": int(key),
        "id": product.id,
        "category": product.category,
        "title": product.title,
        "file": product.file,
        "extra": product.extra,
        "colour": [round(float(v), 2) for v in colour],
    }


def write_products_file(directory: Path, rows: list[dict[str, Any]]) -> None:
    """Write the product rows (inside a staging folder, so no atomic rename is needed here)."""
    with open(directory / PRODUCTS_FILE, "w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
