"""How much the stored index loses against exact float search: recall@k on the catalog's own vectors."""

from __future__ import annotations

import numpy as np

from edge_bml.catalog.shards import search_shards


def _top_without_self(keys: np.ndarray, rows: np.ndarray, k: int) -> list[set[int]]:
    return [
        set([key for key in row_keys.tolist() if key != row and key >= 0][:k])
        for row_keys, row in zip(keys, rows, strict=True)
    ]


def recall_vs_exact(shards: dict, vectors: np.ndarray, *, dtype: str, k: int = 10, sample: int = 500) -> float:
    """Mean overlap of the index's top-``k`` with exact float32 cosine top-``k`` (keys = row numbers).

    Queries are up to ``sample`` catalog vectors (a fixed subset) searched over all shards; each
    query's own entry is left out of both lists, so it does not count as a free hit.
    """
    n = len(vectors)
    if n < 2:
        return 1.0
    rows = np.random.default_rng(0).choice(n, size=min(sample, n), replace=False)
    queries = vectors[rows]
    k = min(k, n - 1)
    exact = np.argsort(-(queries @ vectors.T), axis=1, kind="stable")[:, : k + 1]
    found, _ = search_shards(shards, queries, dtype=dtype, k=k + 1)
    want, got = _top_without_self(exact, rows, k), _top_without_self(found, rows, k)
    return round(float(np.mean([len(a & b) / k for a, b in zip(got, want, strict=True)])), 4)
