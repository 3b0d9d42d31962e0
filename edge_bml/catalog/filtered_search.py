"""Nearest products among those an attribute filter keeps, still ``k`` of them whenever ``k`` pass.

Two ways, measured in ``benchmarks/test_filtered_search.py`` (README *Attribute filters*):

- ``subset``: the stored vectors of the products that pass (gathered once per category and filter,
  then cached) are searched exactly with usearch's brute-force kernel, the one an exact shard search
  uses, so a product scores the same filtered or not (to float rounding, 1e-7). Its cost falls with the share kept.
- ``overfetch``: the shard is searched for more than ``k`` and the products that fail are dropped,
  fetching 4x more while fewer than ``k`` pass and the shard holds more. Its cost does not fall with
  the share kept, and on small shares it searches most of the shard.

usearch's own predicate search is not reachable from its Python package (2.26 compiles only a dummy
predicate), and per-value partitions would need a rebuild per filter column. ``auto`` takes ``subset``
while the products kept in a shard are few enough to be searched exactly (``EXACT_SEARCH_LIMIT``) and
``overfetch`` above that (an HNSW shard), falling back to ``subset`` where an HNSW search ran out.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from edge_bml.catalog.shards import EXACT_SEARCH_LIMIT, PartitionedShard
from edge_bml.catalog.vectors import METRIC

STRATEGIES = ("auto", "subset", "overfetch")
NUMPY_DTYPES = {"i8": np.int8, "f16": np.float16, "f32": np.float32}
CACHED_SUBSETS = 64
CACHED_BYTES = 256 * 1024 * 1024  # gathered vectors kept at most (the oldest filter goes first)


def stored_rows(shard, keys: np.ndarray, dtype: str) -> np.ndarray:
    """The stored vectors of ``keys`` (all in ``shard``), as the shard keeps them."""
    keys = np.asarray(keys, np.uint64)
    numpy_dtype = NUMPY_DTYPES[dtype]
    parts = shard.parts if isinstance(shard, PartitionedShard) else [shard]
    out = np.zeros((len(keys), int(parts[0].ndim)), numpy_dtype)
    todo = np.ones(len(keys), bool)
    for part in parts:
        if not todo.any():
            break
        held = np.zeros(len(keys), bool)
        held[todo] = np.asarray(part.contains(keys[todo]), bool).reshape(-1)
        if held.any():
            rows = part.get(keys[held], dtype=numpy_dtype)
            out[held] = np.vstack(rows) if isinstance(rows, tuple) else np.asarray(rows).reshape(int(held.sum()), -1)
            todo &= ~held
    return out


def _rows_of(found, queries: int) -> tuple[np.ndarray, np.ndarray]:
    """usearch matches as (keys, cosine scores) of shape (queries, count); unset entries -1 / -inf."""
    keys = np.asarray(found.keys, np.int64).reshape(queries, -1)
    scores = 1.0 - np.asarray(found.distances, np.float32).reshape(queries, -1)
    counts = np.asarray(getattr(found, "counts", [keys.shape[1]])).reshape(-1)
    unset = np.arange(keys.shape[1])[None, :] >= counts[:, None]
    return np.where(unset, -1, keys), np.where(unset, -np.inf, scores).astype(np.float32)


def _top(keys: np.ndarray, scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    keys, scores = np.take_along_axis(keys, order, axis=1), np.take_along_axis(scores, order, axis=1)
    if keys.shape[1] < k:
        pad = k - keys.shape[1]
        keys = np.pad(keys, ((0, 0), (0, pad)), constant_values=-1)
        scores = np.pad(scores, ((0, 0), (0, pad)), constant_values=-np.inf)
    return keys, scores


class FilteredSearch:
    """Filtered top-``k`` over one catalog's shards; caches the gathered vectors of recent filters."""

    def __init__(self, dtype: str, *, strategy: str = "auto") -> None:
        if strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {STRATEGIES}, got {strategy!r}")
        self.dtype = dtype
        self.strategy = strategy
        self._subsets: OrderedDict[tuple, np.ndarray] = OrderedDict()

    def search(
        self, shard, stored: np.ndarray, allowed: np.ndarray, k: int, *, cache_key: tuple | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` keys and scores of each row of ``stored`` (queries as the shard stores them) among
        ``allowed`` (sorted keys, all in ``shard``); (-1, -inf) where fewer than ``k`` pass."""
        if len(allowed) == 0 or len(shard) == 0:
            return _top(np.full((len(stored), 0), -1, np.int64), np.zeros((len(stored), 0), np.float32), k)
        strategy = self.strategy
        if strategy == "auto":
            strategy = "subset" if len(allowed) <= EXACT_SEARCH_LIMIT else "overfetch"
        if strategy == "overfetch":
            found = self._overfetch(shard, stored, allowed, k)
            if found is not None:
                return found
        return self._subset(shard, stored, allowed, k, cache_key)

    def _subset(self, shard, stored, allowed, k, cache_key) -> tuple[np.ndarray, np.ndarray]:
        from usearch.index import search

        vectors = self._subsets.get(cache_key) if cache_key is not None else None
        if vectors is None:
            vectors = stored_rows(shard, allowed, self.dtype)
            if cache_key is not None:
                self._subsets[cache_key] = vectors
                while len(self._subsets) > 1 and (
                    len(self._subsets) > CACHED_SUBSETS or sum(v.nbytes for v in self._subsets.values()) > CACHED_BYTES
                ):
                    self._subsets.popitem(last=False)
        else:
            self._subsets.move_to_end(cache_key)
        # One query: one thread (usearch's thread pool costs about 0.3 ms a call, more than a small subset's search).
        threads = 1 if len(stored) == 1 else 0
        found = search(vectors, np.ascontiguousarray(stored), min(k, len(allowed)), METRIC, exact=True, threads=threads)
        rows, scores = _rows_of(found, len(stored))
        keys = np.where(rows >= 0, allowed[np.clip(rows, 0, len(allowed) - 1)], -1)
        return _top(keys, scores, k)

    def _overfetch(self, shard, stored, allowed, k) -> tuple[np.ndarray, np.ndarray] | None:
        """None where an approximate (HNSW) search returned the whole shard's worth without ``k`` passing."""
        total = len(shard)
        largest = shard.largest_part if isinstance(shard, PartitionedShard) else total
        exact = largest <= EXACT_SEARCH_LIMIT
        wanted = min(k, len(allowed))
        share = len(allowed) / total
        count = min(total, max(2 * k, int(np.ceil(2 * k / share))))
        while True:
            keys, scores = _rows_of(shard.search(stored, count, exact=exact), len(stored))
            passing = np.isin(keys, allowed) & (keys >= 0)
            if (passing.sum(axis=1) >= wanted).all():
                return _top(np.where(passing, keys, -1), np.where(passing, scores, -np.inf), k)
            if count >= total:
                return None if not exact else _top(np.where(passing, keys, -1), np.where(passing, scores, -np.inf), k)
            count = min(total, count * 4)
