"""Catalog search latency: USearch (as edge_bml stores it) against exact numpy and FAISS on the same vectors.

Run: pytest benchmarks/test_catalog_search.py --benchmark-json=benchmarks/results/catalog_search.json
(FAISS cases need `pip install -e '.[bench]'`; they skip without it.)

Two vector sets: the 5,096-item clothing catalog (its stored vectors read back; queries are the
embeddings of real CCP article crops) and 100,000 clustered synthetic vectors (queries: catalog
vectors plus noise). One query at a time, one thread, k=10; each case records its recall@10 against
exact float search. The 1,000,000-vector run, whose builds take many minutes, is the script
``python -m benchmarks.catalog_benchmark synthetic`` (results in benchmarks/results/).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from benchmarks.catalog_benchmark import K, clustered, exact_top_k
from edge_bml.catalog.shards import new_index, search_shards
from edge_bml.catalog.vectors import to_stored

ENGINES = ("usearch_catalog", "usearch_i8_hnsw", "numpy_exact", "faiss_flat", "faiss_hnsw")
SETS = ("clothing_5k", "synthetic_100k")


@pytest.fixture(scope="session")
def clothing_catalog(data_dir):
    from edge_bml.cli.demo_command import ensure_default_catalog
    from edge_bml.data_paths import catalogs_dir

    return ensure_default_catalog(data_dir, catalogs_dir() / "clothing")


def _street_queries(catalog, data_dir) -> np.ndarray:
    """Embeddings of the annotated article crops of 20 CCP val photos, made with the catalog's embedder."""
    from edge_bml.image_io import read_image
    from edge_bml.stages.catalog_embedder import open_embedder

    annotations = json.loads((data_dir / "ccp" / "annotations.json").read_text())
    crops = []
    for image in [i for i in annotations["images"] if i["split"] == "val"][:20]:
        rgb = read_image(data_dir / "ccp" / image["file"])
        crops += [rgb[y0:y1, x0:x1] for x0, y0, x1, y1 in (o["box"] for o in image["objects"])]
    with open_embedder(None, catalog=catalog.manifest, threads=2) as embedder:
        return embedder.embed([c for c in crops if c.size])


@pytest.fixture(scope="session")
def vector_sets(clothing_catalog, data_dir):
    """Per set: float matrix, queries, exact top-k, the opened catalog (clothing only)."""
    from edge_bml.catalog.search import Catalog
    from edge_bml.evaluation.neighbour_overlap import stored_vectors

    catalog = Catalog(clothing_catalog)
    by_id = stored_vectors(catalog)
    key_of = {row["id"]: key for key, row in catalog.products.items()}
    ids = sorted(by_id)
    matrix = np.stack([by_id[i] for i in ids]).astype(np.float32)
    keys = np.array([key_of[i] for i in ids], np.int64)
    queries = _street_queries(catalog, data_dir)
    synthetic = clustered(100_000, matrix.shape[1], seed=0)
    rng = np.random.default_rng(1)
    noisy = synthetic[rng.choice(len(synthetic), 200, replace=False)]
    noisy = noisy + rng.normal(scale=0.2 / np.sqrt(noisy.shape[1]), size=noisy.shape).astype(np.float32)
    noisy /= np.linalg.norm(noisy, axis=1, keepdims=True)
    sets = {
        "clothing_5k": {"matrix": matrix, "keys": keys, "queries": queries, "catalog": catalog},
        "synthetic_100k": {"matrix": synthetic, "keys": np.arange(len(synthetic)), "queries": noisy},
    }
    for entry in sets.values():
        entry["exact"] = entry["keys"][exact_top_k(entry["matrix"], entry["queries"])]
    yield sets
    catalog.close()


def _searcher(engine: str, entry: dict):
    """A one-query search function over ``entry``'s vectors, returning keys best first."""
    matrix, keys = entry["matrix"], entry["keys"]
    if engine == "usearch_catalog":
        if "catalog" not in entry:
            pytest.skip("the built catalog exists for the clothing set only")
        catalog = entry["catalog"]
        key_of = {row["id"]: key for key, row in catalog.products.items()}
        return lambda q: [key_of[i] for i in catalog.search(q, k=K).ids]
    if engine == "usearch_i8_hnsw":
        index = new_index(matrix.shape[1], "i8")
        index.add(keys.astype(np.uint64), to_stored(matrix, "i8"), threads=2)
        shards = {"all": index}
        return lambda q: search_shards(shards, q[None], dtype="i8", k=K)[0][0]
    if engine == "numpy_exact":

        def search(q):
            scores = matrix @ q
            top = np.argpartition(-scores, K)[:K]
            return keys[top[np.argsort(-scores[top])]]

        return search
    faiss = pytest.importorskip("faiss", reason="FAISS cases need the bench extra: pip install -e '.[bench]'")
    faiss.omp_set_num_threads(2)
    if engine == "faiss_flat":
        index = faiss.IndexFlatIP(matrix.shape[1])
    else:
        index = faiss.IndexHNSWFlat(matrix.shape[1], 16, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 128
    index.add(matrix)
    faiss.omp_set_num_threads(1)
    if engine == "faiss_hnsw":
        index.hnsw.efSearch = 64
    return lambda q: keys[index.search(q[None], K)[1][0]]


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("vectors", SETS)
def test_catalog_search(benchmark, vector_sets, vectors, engine):
    entry = vector_sets[vectors]
    search = _searcher(engine, entry)
    queries = entry["queries"]
    found = np.stack([np.asarray(search(q), np.int64)[:K] for q in queries])
    recall = float(np.mean([len(set(a) & set(b)) / K for a, b in zip(found.tolist(), entry["exact"].tolist())]))
    benchmark.group = "catalog_search"
    benchmark.extra_info.update(
        engine=engine, vectors=len(entry["matrix"]), queries=len(queries), threads=1, recall_at_10=round(recall, 4)
    )
    state = {"i": 0}

    def run():
        state["i"] = (state["i"] + 1) % len(queries)
        return search(queries[state["i"]])

    benchmark(run)
    assert recall >= 0.8, f"{engine} recall@10 {recall:.3f} against exact float search"
