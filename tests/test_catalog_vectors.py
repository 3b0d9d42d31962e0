"""i8 storage with a per-vector scale keeps the neighbours exact float search finds; USearch's own cast does not."""

from __future__ import annotations

import numpy as np
import pytest
from usearch.index import Index

from edge_bml.catalog.vectors import to_stored
from edge_bml.errors import CatalogError


def _clustered(n: int, dims: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(100, dims)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    x = centres[rng.integers(100, size=n)] + rng.normal(scale=0.5 / np.sqrt(dims), size=(n, dims)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _recall_at_10(index: Index, stored_queries: np.ndarray, exact: np.ndarray) -> float:
    keys = index.search(stored_queries, 11, exact=True).keys
    return float(np.mean([len(set(k[1:].tolist()) & set(e.tolist())) / 10 for k, e in zip(keys, exact)]))


def test_own_scale_i8_keeps_recall_where_the_native_cast_loses_it():
    x = _clustered(2000, 256)
    queries = x[:200]
    exact = np.argsort(-(queries @ x.T), axis=1)[:, 1:11]
    native = Index(ndim=256, metric="cos", dtype="i8")
    native.add(np.arange(2000), x)
    own = Index(ndim=256, metric="cos", dtype="i8")
    own.add(np.arange(2000), to_stored(x, "i8"))
    own_recall = _recall_at_10(own, to_stored(queries, "i8"), exact)
    assert own_recall >= 0.98
    assert _recall_at_10(native, queries, exact) < own_recall - 0.03


def test_i8_uses_the_full_range_and_f16_f32_keep_values():
    x = _clustered(10, 64)
    stored = to_stored(x, "i8")
    assert stored.dtype == np.int8 and np.all(np.abs(stored).max(axis=1) == 127)
    assert np.allclose(to_stored(x, "f16").astype(np.float32), x, atol=1e-3)
    assert to_stored(x, "f32").dtype == np.float32


def test_bad_dtype_or_vectors_are_typed_errors():
    with pytest.raises(CatalogError, match="dtype"):
        to_stored(np.ones((2, 4)), "i4")
    with pytest.raises(CatalogError, match="finite"):
        to_stored(np.array([[np.nan, 1.0]]), "i8")
