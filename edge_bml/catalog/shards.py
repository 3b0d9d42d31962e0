"""Per-category USearch indexes: create, fill, open memory-mapped, search and merge."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edge_bml.catalog.vectors import METRIC, to_stored
from edge_bml.errors import CatalogError

# Shards up to this size are searched exhaustively (exact, still fast); bigger ones use HNSW.
EXACT_SEARCH_LIMIT = 50_000
CONNECTIVITY = 16
EXPANSION_ADD = 128
EXPANSION_SEARCH = 256


def new_index(dims: int, dtype: str):
    """An empty HNSW index storing ``dtype`` under cosine."""
    from usearch.index import Index

    return Index(
        ndim=dims,
        metric=METRIC,
        dtype=dtype,
        connectivity=CONNECTIVITY,
        expansion_add=EXPANSION_ADD,
        expansion_search=EXPANSION_SEARCH,
    )


def open_shard(path: Path, *, view: bool = True):
    """Open a saved shard, memory-mapped when ``view`` (nothing copied into RAM).

    Raises:
        CatalogError: the shard file is missing or unreadable.
    """
    from usearch.index import Index

    if not path.is_file():
        raise CatalogError(f"catalog shard {path} is missing; rebuild the catalog")
    try:
        index = Index.restore(str(path), view=view)
    except Exception as error:  # usearch raises RuntimeError/ValueError variants for bad files
        raise CatalogError(f"catalog shard {path} cannot be opened: {error}") from error
    if index is None:
        raise CatalogError(f"catalog shard {path} is not a USearch index")
    index.expansion_search = EXPANSION_SEARCH
    return index


def search_shards(shards: dict, queries: np.ndarray, *, dtype: str, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-``k`` keys and cosine scores over all ``shards`` for each query row (keys -1 where none).

    Raises:
        CatalogError: bad query vectors.
    """
    stored = to_stored(queries, dtype)
    keys = np.full((len(stored), k), -1, np.int64)
    scores = np.full((len(stored), k), -np.inf, np.float32)
    for index in shards.values():
        if len(index) == 0:
            continue
        found = index.search(stored, min(k, len(index)), exact=len(index) <= EXACT_SEARCH_LIMIT)
        found_keys = np.asarray(found.keys, np.int64).reshape(len(stored), -1)
        found_scores = 1.0 - np.asarray(found.distances, np.float32).reshape(len(stored), -1)
        counts = np.asarray(getattr(found, "counts", [len(found.keys)])).reshape(-1)
        columns = np.arange(found_keys.shape[1])[None, :]
        found_scores = np.where(columns < counts[:, None], found_scores, -np.inf)
        all_keys = np.concatenate([keys, found_keys], axis=1)
        all_scores = np.concatenate([scores, found_scores], axis=1)
        order = np.argsort(-all_scores, axis=1, kind="stable")[:, :k]
        keys = np.take_along_axis(all_keys, order, axis=1)
        scores = np.take_along_axis(all_scores, order, axis=1)
    keys[~np.isfinite(scores)] = -1
    return keys, scores
