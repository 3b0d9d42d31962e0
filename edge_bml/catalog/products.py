"""Reading a product table (CSV) into catalog rows, checking the columns it was told to use."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from edge_bml.errors import CatalogColumnError, CatalogError


@dataclass(frozen=True)
class ColumnMap:
    """Which CSV columns hold the id, image file, category and (optionally) title."""

    id: str = "id"
    file: str = "file"
    category: str = "category"
    title: str | None = None


@dataclass(frozen=True)
class Product:
    """One catalog row; ``image`` is where its photo is read from at build time."""

    id: str
    category: str
    title: str
    file: str
    image: Path
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SkippedRow:
    """A CSV row that could not become a product, and why."""

    line: int
    id: str
    reason: str


def read_products(items_csv: Path, images_dir: Path, *, columns: ColumnMap) -> tuple[list[Product], list[SkippedRow]]:
    """Products of a CSV; rows with an empty id or category are returned as skipped, not fatal.

    Raises:
        CatalogError: the CSV is missing, empty or repeats an id.
        CatalogColumnError: a named column is not in the CSV header.
    """
    if not items_csv.is_file():
        raise CatalogError(f"product table {items_csv} not found")
    with open(items_csv, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        header = list(reader.fieldnames or ())
        if not header:
            raise CatalogError(f"{items_csv} is empty: it needs a header row")
        wanted = [c for c in (columns.id, columns.file, columns.category, columns.title) if c]
        missing = [c for c in wanted if c not in header]
        if missing:
            raise CatalogColumnError(
                f"{items_csv} has no column(s) {missing}; its columns are {header} "
                "(pick others with --id-col/--file-col/--category-col/--title-col)"
            )
        used = set(wanted)
        products, skipped, seen = [], [], set()
        for line, row in enumerate(reader, start=2):
            product_id = (row.get(columns.id) or "").strip()
            category = (row.get(columns.category) or "").strip()
            if not product_id or not category:
                skipped.append(SkippedRow(line, product_id, "empty id" if not product_id else "empty category"))
                continue
            if product_id in seen:
                raise CatalogError(f"{items_csv} line {line}: id {product_id!r} appears twice")
            seen.add(product_id)
            file = (row.get(columns.file) or "").strip()
            products.append(
                Product(
                    id=product_id,
                    category=category,
                    title=(row.get(columns.title) or "").strip() if columns.title else "",
                    file=file,
                    image=images_dir / file,
                    extra={k: v for k, v in row.items() if k not in used and k is not None},
                )
            )
    return products, skipped
