"""A catalog of random vectors written by the real writer, for tests of opening, searching and serving
catalogs that need no embedder (it records a fake one)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np

from edge_bml.catalog.build import BuildOutput, write_catalog
from edge_bml.catalog.products import ColumnMap, Product


def tiny_catalog(out: Path, count: int = 12, *, dims: int = 16, seed: int = 0) -> Path:
    """``count`` products ``p0``... of category top, ``dims``-d float32 vectors, written (or swapped) into ``out``."""
    rng = np.random.default_rng(seed)
    products = [Product(f"p{n}", "top", "", f"p{n}.jpg", Path(f"p{n}.jpg")) for n in range(count)]
    vectors = {p.id: rng.normal(size=dims).astype(np.float32) for p in products}
    colours = {p.id: np.zeros(3, np.float32) for p in products}
    write_catalog(
        out,
        BuildOutput(products, [], vectors, {}, colours),
        embedder=("fake", "0" * 64),
        dtype="f32",
        columns=ColumnMap(),
        source={},
        colour_weight=0.0,
        started=dt.datetime.now(dt.UTC),
        seconds=0.0,
    )
    return out
