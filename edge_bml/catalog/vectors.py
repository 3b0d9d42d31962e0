"""How vectors are stored in a shard: i8 with a per-vector scale, f16 or f32, all under cosine.

USearch's own f32 -> i8 cast multiplies by 127, so the tiny components of a unit vector round
to a few levels. Cosine ignores a vector's length, so each vector is instead scaled until its
largest component is 127 before rounding: full int8 resolution, no scale to store.
"""

from __future__ import annotations

import numpy as np

from edge_bml.errors import CatalogError

DTYPES = ("i8", "f16", "f32")
METRIC = "cos"


def to_stored(vectors: np.ndarray, dtype: str) -> np.ndarray:
    """``(N, D)`` float vectors as the array a shard of ``dtype`` stores (and its queries use).

    Raises:
        CatalogError: unknown dtype or vectors that are not a 2-D finite float array.
    """
    if dtype not in DTYPES:
        raise CatalogError(f"catalog dtype {dtype!r} is not one of {DTYPES}")
    vectors = np.asarray(vectors, np.float32)
    if vectors.ndim != 2 or not np.isfinite(vectors).all():
        raise CatalogError(f"vectors must be a finite (N, D) array, got shape {vectors.shape}")
    if dtype == "f32":
        return np.ascontiguousarray(vectors)
    if dtype == "f16":
        return vectors.astype(np.float16)
    peak = np.abs(vectors).max(axis=1, keepdims=True)
    return np.round(vectors / np.maximum(peak, 1e-12) * 127.0).astype(np.int8)
