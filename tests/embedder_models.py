"""Small real embedder variants for tests: the ImageNet EfficientNet-Lite0, pooled, exported at low resolution."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")


def export_small_backbone(out: Path, size: int) -> Path:
    """A real (untrained-head) embedder variant: plain backbone, ``size`` px input, FP32 ONNX."""
    from converters.train.embedder_export import export_backbone

    return export_backbone(out, size=size)


def write_items_csv(path: Path, rows: list[dict[str, str]], columns: tuple[str, ...] | None = None) -> Path:
    """A product table in the clothing ``items.csv`` layout (or with ``columns``)."""
    columns = columns or tuple(rows[0])
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def clothing_rows(data_dir: Path, per_category: int) -> list[dict[str, str]]:
    """The first ``per_category`` clothing items of each category, in a stable order."""
    with open(data_dir / "clothing" / "items.csv", newline="", encoding="utf-8") as handle:
        rows = sorted(csv.DictReader(handle), key=lambda r: r["id"])
    picked, counts = [], {}
    for row in rows:
        if counts.get(row["category"], 0) < per_category:
            counts[row["category"]] = counts.get(row["category"], 0) + 1
            picked.append(row)
    return picked
