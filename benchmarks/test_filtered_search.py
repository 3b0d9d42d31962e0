"""Filtered catalog search: the latency cost of a filter keeping 30% and one keeping 3% of a category.

Run: pytest benchmarks/test_filtered_search.py --benchmark-json=benchmarks/results/filtered_search.json

Two categories: the clothing catalog's tops (2,561 products, an exact shard; queries: the embeddings of
CCP val article crops, as in ``test_catalog_search``) and 60,000 clustered synthetic vectors in one
HNSW shard (over ``EXACT_SEARCH_LIMIT``; queries: its vectors plus noise). The kept products are a
fixed random 30% or 3% of the category: the cost depends on the share kept, not on which column kept
it. Each way (``filtered_search``: ``subset``, ``overfetch``, and ``auto``, what the catalog runs) is
timed against the same search without a filter, k=50 (the look asks for the colour re-rank's 50
candidates), one query at a time (usearch picks its threads, as the catalog runs it). The kept
products' vectors are gathered once per filter and cached (a kiosk's steady state); the first
query's gathering is in ``extra_info.cold_ms``. Every
case checks it returned min(k, kept) products, all of them kept, and records its recall against exact
float search over the kept products. ``catalog_kids_true`` is the real thing end to end:
``Catalog.search`` of tops with ``where={"kids": ("True",)}`` (167 of 2,561, 6.5%), beside
``catalog_no_filter``, the same search without a filter.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from benchmarks.catalog_benchmark import clustered
from benchmarks.test_catalog_search import _street_queries
from edge_bml.catalog.filtered_search import FilteredSearch
from edge_bml.catalog.shards import EXACT_SEARCH_LIMIT, new_index, search_shards
from edge_bml.catalog.vectors import to_stored

K = 50
SHARES = (0.3, 0.03)
WAYS = ("none", "auto", "subset", "overfetch")
SYNTHETIC = 60_000


@pytest.fixture(scope="session")
def clothing_catalog(data_dir):
    from edge_bml.catalog.search import Catalog
    from edge_bml.cli.demo_command import ensure_default_catalog
    from edge_bml.data_paths import catalogs_dir

    catalog = Catalog(ensure_default_catalog(data_dir, catalogs_dir() / "clothing"))
    yield catalog
    catalog.close()


@pytest.fixture(scope="session")
def categories(clothing_catalog, data_dir):
    """Per set: the shard, its keys, its float vectors (for exact truth), the queries and the dtype."""
    from edge_bml.evaluation.neighbour_overlap import stored_vectors

    catalog = clothing_catalog
    by_id = stored_vectors(catalog)
    tops = sorted((key, row["id"]) for key, row in catalog.products.items() if row["category"] == "top")
    top_keys = np.asarray([key for key, _ in tops], np.int64)
    top_matrix = np.stack([by_id[i] for _, i in tops]).astype(np.float32)
    dims = top_matrix.shape[1]
    synthetic = clustered(SYNTHETIC, dims, seed=0)
    index = new_index(dims, "i8")
    index.add(np.arange(SYNTHETIC, dtype=np.uint64), to_stored(synthetic, "i8"), threads=2)
    rng = np.random.default_rng(1)
    noisy = synthetic[rng.choice(SYNTHETIC, 100, replace=False)]
    noisy = noisy + rng.normal(scale=0.2 / np.sqrt(dims), size=noisy.shape).astype(np.float32)
    noisy /= np.linalg.norm(noisy, axis=1, keepdims=True)
    return {
        "clothing_tops_2561": {
            "shard": catalog.shards["top"],
            "keys": top_keys,
            "matrix": top_matrix,
            "queries": _street_queries(catalog, data_dir),
            "dtype": catalog.manifest.dtype,
        },
        "synthetic_60k_hnsw": {
            "shard": index,
            "keys": np.arange(SYNTHETIC, dtype=np.int64),
            "matrix": synthetic,
            "queries": noisy,
            "dtype": "i8",
        },
    }


def _kept(keys: np.ndarray, share: float) -> np.ndarray:
    rng = np.random.default_rng(round(share * 1000))
    return np.sort(rng.choice(keys, max(1, round(share * len(keys))), replace=False))


def _truth(entry: dict, kept: np.ndarray, query: np.ndarray) -> set[int]:
    rows = np.searchsorted(entry["keys"], kept)
    scores = entry["matrix"][rows] @ query
    return set(kept[np.argsort(-scores)[:K]].tolist())


@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize("share", SHARES, ids=["keeps_30pct", "keeps_3pct"])
@pytest.mark.parametrize("vectors", ["clothing_tops_2561", "synthetic_60k_hnsw"])
def test_filtered_search(benchmark, categories, vectors, share, way):
    entry = categories[vectors]
    shard, queries, dtype = entry["shard"], entry["queries"], entry["dtype"]
    kept = _kept(entry["keys"], share)
    stored = [to_stored(q[None], dtype) for q in queries]
    if way == "none":
        if share != SHARES[0]:
            pytest.skip("the unfiltered search is timed once per set")

        def search(i):
            return search_shards({"c": shard}, queries[i][None], dtype=dtype, k=K)[0][0]

    else:
        engine = FilteredSearch(dtype, strategy=way)
        started = time.perf_counter()
        engine.search(shard, stored[0], kept, K, cache_key=("c",))
        benchmark.extra_info["cold_ms"] = round((time.perf_counter() - started) * 1000, 2)

        def search(i):
            return engine.search(shard, stored[i], kept, K, cache_key=("c",))[0][0]

    found = [np.asarray(search(i)) for i in range(len(queries))]
    if way != "none":
        wanted = min(K, len(kept))
        assert all((f >= 0).sum() == wanted for f in found), "a filtered search returned fewer than min(k, kept)"
        assert all(np.isin(f[f >= 0], kept).all() for f in found), "a product outside the filter came back"
        recall = np.mean([len(set(f.tolist()) & _truth(entry, kept, q)) / wanted for f, q in zip(found, queries)])
        benchmark.extra_info["recall_vs_exact_kept"] = round(float(recall), 4)
    benchmark.group = f"filtered_search_{vectors}"
    benchmark.extra_info.update(
        way=way,
        share_kept=share if way != "none" else 1.0,
        kept=len(kept) if way != "none" else len(entry["keys"]),
        category_size=len(entry["keys"]),
        hnsw=len(entry["keys"]) > EXACT_SEARCH_LIMIT,
        k=K,
    )
    state = {"i": 0}

    def run():
        state["i"] = (state["i"] + 1) % len(queries)
        return search(state["i"])

    benchmark(run)


@pytest.mark.parametrize("filtered", [False, True], ids=["catalog_no_filter", "catalog_kids_true"])
def test_catalog_search_with_a_real_attribute_filter(benchmark, clothing_catalog, categories, filtered):
    catalog = clothing_catalog
    queries = categories["clothing_tops_2561"]["queries"]
    where = {"kids": ("True",)} if filtered else None
    kept = catalog.passing_count(where, "top")
    found = [catalog.search(q, category="top", k=K, colour_weight=0, where=where) for q in queries]
    kids = {"True"} if filtered else {"True", "False"}
    assert all(len(m) == min(K, kept) and {x.attributes["kids"] for x in m} <= kids for m in found)
    benchmark.group = "filtered_search_clothing_tops_2561"
    way = "catalog_kids_true" if filtered else "catalog_no_filter"
    benchmark.extra_info.update(way=way, kept=kept, share_kept=round(kept / 2561, 4), k=K)
    state = {"i": 0}

    def run():
        state["i"] = (state["i"] + 1) % len(queries)
        return catalog.search(queries[state["i"]], category="top", k=K, colour_weight=0, where=where)

    benchmark(run)
