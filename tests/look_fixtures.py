"""A small real catalog (a slice of the clothing data, embedded with the shipped embedder) for look tests."""

from __future__ import annotations

import csv
from pathlib import Path

from edge_bml.catalog.build import build_catalog
from edge_bml.catalog.products import ColumnMap
from edge_bml.model_registry import select_variant
from edge_bml.stages.embedder import ArticleEmbedder


def build_small_catalog(data_dir: Path, out: Path, *, per_category: int = 12) -> Path:
    """A catalog of ``per_category`` items of each clothing category, built into ``out``."""
    source = data_dir / "clothing"
    with open(source / "items.csv", newline="") as handle:
        reader = csv.DictReader(handle)
        fields = reader.fieldnames
        rows, seen = [], {}
        for row in reader:
            if seen.get(row["category"], 0) < per_category:
                seen[row["category"]] = seen.get(row["category"], 0) + 1
                rows.append(row)
    items = out.parent / f"{out.name}_items.csv"
    with open(items, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    with ArticleEmbedder(select_variant("embedder", precision="fp32")) as embedder:
        build_catalog(items, source, out, embedder, columns=ColumnMap(title="label"), dtype="i8")
    return out
