"""How far two embedders agree on a catalog: overlap of each product's top-k neighbours.

Used to accept an INT8 embedder against its FP32 original: build a catalog with each, then
compare the neighbour lists product by product (exact search over the stored vectors).
"""

from __future__ import annotations

import numpy as np

from edge_bml.catalog.search import Catalog
from edge_bml.catalog.shards import shard_parts
from edge_bml.errors import CatalogError


def stored_vectors(catalog: Catalog) -> dict[str, np.ndarray]:
    """Every product's stored vector (read back from its shard, as float, unit length), by product id."""
    out = {}
    for index in shard_parts(catalog.shards.values()):
        keys = np.asarray(index.keys, np.int64)
        if len(keys) == 0:
            continue
        vectors = np.asarray(index.get(keys), np.float32).reshape(len(keys), -1)
        vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        for key, vector in zip(keys.tolist(), vectors, strict=True):
            out[catalog.products[key]["id"]] = vector
    return out


def neighbour_overlap(candidate: Catalog, reference: Catalog, *, k: int = 10, sample: int = 1000) -> dict:
    """Mean overlap of top-``k`` neighbour sets (self excluded) for up to ``sample`` shared products.

    Raises:
        CatalogError: the catalogs share fewer than ``k + 1`` products.
    """
    a, b = stored_vectors(candidate), stored_vectors(reference)
    ids = sorted(set(a) & set(b))
    if len(ids) <= k:
        raise CatalogError(f"the catalogs share {len(ids)} products; need more than {k} to compare neighbours")
    matrix_a = np.stack([a[i] for i in ids])
    matrix_b = np.stack([b[i] for i in ids])
    rows = np.random.default_rng(0).choice(len(ids), size=min(sample, len(ids)), replace=False)
    overlaps = []
    for start in range(0, len(rows), 256):
        chunk = rows[start : start + 256]
        top_a = np.argsort(-(matrix_a[chunk] @ matrix_a.T), axis=1)[:, : k + 1]
        top_b = np.argsort(-(matrix_b[chunk] @ matrix_b.T), axis=1)[:, : k + 1]
        for row, first, second in zip(chunk.tolist(), top_a, top_b, strict=True):
            set_a = [j for j in first.tolist() if j != row][:k]
            set_b = [j for j in second.tolist() if j != row][:k]
            overlaps.append(len(set(set_a) & set(set_b)) / k)
    return {"top_k": k, "products": len(overlaps), "neighbour_overlap": round(float(np.mean(overlaps)), 4)}
