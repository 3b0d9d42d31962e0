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


class PartitionedShard:
    """One category split into hash partitions (each its own memory-mapped USearch file), read as one.

    Search runs over all parts in one call of usearch's multi-index search (``usearch.index.Indexes``):
    on memory-mapped int8 parts it returns the same keys and distances as searching each part and
    merging, exact and HNSW alike, at the same latency. Lengths, dims, keys and stored vectors read
    across the parts.
    """

    def __init__(self, parts: list) -> None:
        self.parts = parts

    def __len__(self) -> int:
        return sum(len(part) for part in self.parts)

    @property
    def largest_part(self) -> int:
        return max((len(part) for part in self.parts), default=0)

    def search(self, vectors: np.ndarray, count: int, *, exact: bool = False):
        """Top ``count`` of each row of ``vectors`` over every part (usearch ``Matches``/``BatchMatches``;
        entries past ``counts`` are unset). The ``Indexes`` is made per call (about 10 us), so it never
        misses a part changed since."""
        from usearch.index import Indexes

        return Indexes(indexes=[part for part in self.parts if len(part)]).search(vectors, count, exact=exact)

    @property
    def ndim(self) -> int:
        return int(self.parts[0].ndim)

    @property
    def keys(self) -> np.ndarray:
        return np.concatenate([np.asarray(part.keys, np.int64) for part in self.parts])

    def get(self, keys) -> np.ndarray:
        """Stored vectors of ``keys`` (each found in whichever part holds it)."""
        keys = np.atleast_1d(np.asarray(keys, np.uint64))
        out = np.zeros((len(keys), self.ndim), np.float32)
        for part in self.parts:
            held = np.asarray([part.contains(int(key)) for key in keys], bool)
            if held.any():
                out[held] = np.asarray(part.get(keys[held]), np.float32).reshape(int(held.sum()), -1)
        return out

    def __getitem__(self, key) -> np.ndarray:
        return self.get([key])[0]


def shard_parts(shards) -> list:
    """The USearch indexes behind shards (an index, or a ``PartitionedShard``'s parts)."""
    parts = []
    for shard in shards:
        parts.extend(shard.parts if isinstance(shard, PartitionedShard) else [shard])
    return parts


def search_shards(shards: dict, queries: np.ndarray, *, dtype: str, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-``k`` keys and cosine scores over all ``shards`` (a partitioned one in one multi-index search)
    for each query row (keys -1 where none); a shard is searched exactly while it (or its largest
    partition) holds at most ``EXACT_SEARCH_LIMIT`` vectors.

    Raises:
        CatalogError: bad query vectors.
    """
    stored = to_stored(queries, dtype)
    keys = np.full((len(stored), k), -1, np.int64)
    scores = np.full((len(stored), k), -np.inf, np.float32)
    for shard in shards.values():
        if len(shard) == 0:
            continue
        largest = shard.largest_part if isinstance(shard, PartitionedShard) else len(shard)
        found = shard.search(stored, min(k, len(shard)), exact=largest <= EXACT_SEARCH_LIMIT)
        found_keys = np.asarray(found.keys, np.int64).reshape(len(stored), -1)
        found_scores = 1.0 - np.asarray(found.distances, np.float32).reshape(len(stored), -1)
        counts = np.asarray(getattr(found, "counts", [len(found.keys)])).reshape(-1)
        columns = np.arange(found_keys.shape[1])[None, :]
        found_scores = np.where(columns < counts[:, None], found_scores, -np.inf)
        keys, scores = merge_top_k(keys, scores, found_keys, found_scores, k)
    keys[~np.isfinite(scores)] = -1
    return keys, scores


def merge_top_k(
    keys: np.ndarray, scores: np.ndarray, more_keys: np.ndarray, more_scores: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """The best ``k`` per row of two (keys, scores) result sets, best first; ties keep the first set's order."""
    all_keys = np.concatenate([keys, more_keys], axis=1)
    all_scores = np.concatenate([scores, more_scores], axis=1)
    order = np.argsort(-all_scores, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(all_keys, order, axis=1), np.take_along_axis(all_scores, order, axis=1)
