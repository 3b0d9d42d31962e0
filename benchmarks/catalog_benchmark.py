"""Catalog search benchmark: a built catalog, and a clustered synthetic shard against exact numpy and FAISS.

Run:
  python -m benchmarks.catalog_benchmark real --catalog DIR --out benchmarks/results/catalog_real.json
  python -m benchmarks.catalog_benchmark synthetic --vectors 1000000 --out benchmarks/results/catalog_synthetic.json

Each measurement of open time and resident memory runs in a fresh subprocess so engines do not
share memory. Latency is one query at a time (k=10), after 20 warm-up queries; 1,000 queries.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

QUERIES = 1000
K = 10


def rss_mb() -> float:
    """Resident memory of this process (VmRSS), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def size_mb(path: Path) -> float:
    files = [path] if path.is_file() else [f for f in path.rglob("*") if f.is_file()]
    return sum(f.stat().st_size for f in files) / 1e6


def clustered(n: int, dims: int, *, seed: int, clusters: int = 2000) -> np.ndarray:
    """Unit vectors around ``clusters`` random centres (spread 0.35): closer to real embeddings than uniform."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(clusters, dims)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    out = np.empty((n, dims), np.float32)
    for start in range(0, n, 100_000):
        stop = min(n, start + 100_000)
        labels = rng.integers(clusters, size=stop - start)
        noise = rng.normal(scale=0.35 / np.sqrt(dims), size=(stop - start, dims)).astype(np.float32)
        block = centres[labels] + noise
        out[start:stop] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


def latency_stats(seconds: list[float]) -> dict[str, float]:
    ms = np.asarray(seconds) * 1000
    return {"p50_ms": round(float(np.percentile(ms, 50)), 4), "p99_ms": round(float(np.percentile(ms, 99)), 4)}


def exact_top_k(matrix: np.ndarray, queries: np.ndarray, batch: int = 64) -> np.ndarray:
    """Row indices of each query's ``K`` best inner products over ``matrix``, best first (exact float)."""
    out = []
    for start in range(0, len(queries), batch):
        scores = queries[start : start + batch] @ matrix.T
        top = np.argpartition(-scores, K, axis=1)[:, :K]
        order = np.argsort(-np.take_along_axis(scores, top, axis=1), axis=1)
        out.append(np.take_along_axis(top, order, axis=1))
    return np.concatenate(out)


def say(message: str) -> None:
    """Progress on stderr (stdout carries the JSON)."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def recall(found: np.ndarray, exact: np.ndarray) -> float:
    return round(float(np.mean([len(set(a) & set(b)) / K for a, b in zip(found.tolist(), exact.tolist())])), 4)


def _child(engine: str, workdir: Path) -> dict:
    """Open one engine's saved index, run the queries one by one, report times, memory, recall."""
    import edge_bml.catalog.search  # noqa: F401  (libraries load before the clock and memory baseline)

    if engine.startswith("faiss"):
        import faiss  # noqa: F401

    queries = np.load(workdir / "queries.npy")
    exact = np.load(workdir / "exact.npy")
    before = rss_mb()
    t0 = time.perf_counter()
    if engine == "usearch_catalog":
        from edge_bml.catalog.search import Catalog
        from edge_bml.catalog.shards import search_shards

        catalog = Catalog(json.loads((workdir / "meta.json").read_text())["catalog"])

        def search(q):
            return search_shards(catalog.shards, q[None], dtype=catalog.manifest.dtype, k=K)[0][0]
    elif engine.startswith("usearch_i8_partitioned"):
        from edge_bml.catalog.shards import PartitionedShard, open_shard, search_shards

        parts = sorted(workdir.glob("usearch_part_*.usearch"))
        shard = {"all": PartitionedShard([open_shard(path, view=True) for path in parts])}
        for part in shard["all"].parts:
            part.expansion_search = 64

        def search(q):
            return search_shards(shard, q[None], dtype="i8", k=K)[0][0]
    elif engine.startswith("usearch"):
        from edge_bml.catalog.shards import open_shard, search_shards

        shard = {"all": open_shard(workdir / "usearch.usearch", view=True)}
        exact_search = engine == "usearch_i8_exact"
        if not exact_search:  # 64 = FAISS HNSW efSearch here; 256 = the catalog default (EXPANSION_SEARCH)
            shard["all"].expansion_search = 256 if engine.endswith("_ef256") else 64

        def search(q):
            if exact_search:
                from edge_bml.catalog.vectors import to_stored

                return shard["all"].search(to_stored(q[None], "i8"), K, exact=True).keys
            return search_shards(shard, q[None], dtype="i8", k=K)[0][0]
    elif engine == "numpy_exact":
        matrix = np.load(workdir / "vectors.npy", mmap_mode="r")

        def search(q):
            scores = matrix @ q
            top = np.argpartition(-scores, K)[:K]
            return top[np.argsort(-scores[top])]
    else:
        import faiss

        faiss.omp_set_num_threads(1)
        index = faiss.read_index(str(workdir / f"{engine}.faiss"), faiss.IO_FLAG_MMAP if engine == "faiss_flat" else 0)
        if engine == "faiss_hnsw":
            index.hnsw.efSearch = 64

        def search(q):
            return index.search(q[None], K)[1][0]

    open_s = time.perf_counter() - t0
    opened = rss_mb()
    for q in queries[:20]:
        search(q)
    times, found = [], []
    for q in queries[:QUERIES]:
        t = time.perf_counter()
        keys = search(q)
        times.append(time.perf_counter() - t)
        found.append(np.asarray(keys, np.int64)[:K])
    return {
        "engine": engine,
        "open_ms": round(open_s * 1000, 2),
        "rss_before_open_mb": round(before, 1),
        "rss_after_open_mb": round(opened, 1),
        "rss_after_queries_mb": round(rss_mb(), 1),
        **latency_stats(times),
        "recall_at_10_vs_exact_f32": recall(np.stack(found), exact[:QUERIES]),
    }


def _run_child(engine: str, workdir: Path) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.catalog_benchmark", "child", engine, str(workdir)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def synthetic(
    n: int, dims: int, workdir: Path, *, build_threads: int = 2, partitions: int = 4, usearch_only: bool = False
) -> dict:
    """Build every engine's index over the same clustered vectors, then measure each in a subprocess.

    ``usearch_i8_partitioned`` is the catalog's hash partitioning (``partitions`` shards of n/partitions,
    searched together and merged, efSearch 64 like ``usearch_i8_hnsw``); ``usearch_only`` skips FAISS.
    """
    from edge_bml.catalog.catalog_manifest import partition_of
    from edge_bml.catalog.shards import new_index
    from edge_bml.catalog.vectors import to_stored

    if not usearch_only:
        import faiss

        faiss.omp_set_num_threads(build_threads)
    say(f"{n:,} clustered {dims}-d vectors")
    vectors = clustered(n, dims, seed=0)
    rng = np.random.default_rng(1)
    picks = rng.choice(n, size=QUERIES, replace=False)
    queries = vectors[picks] + rng.normal(scale=0.2 / np.sqrt(dims), size=(QUERIES, dims)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    exact = exact_top_k(vectors, queries)
    np.save(workdir / "vectors.npy", vectors)
    np.save(workdir / "queries.npy", queries)
    np.save(workdir / "exact.npy", exact)
    builds = {}
    say(f"building USearch i8 HNSW ({build_threads} threads)")
    t = time.perf_counter()
    index = new_index(dims, "i8")
    index.add(np.arange(n, dtype=np.uint64), to_stored(vectors, "i8"), threads=build_threads)
    index.save(str(workdir / "usearch.usearch"))
    builds["usearch_i8_hnsw"] = {
        "build_s": round(time.perf_counter() - t, 1),
        "size_mb": round(size_mb(workdir / "usearch.usearch"), 1),
    }
    del index
    say(f"building USearch i8 HNSW in {partitions} hash partitions ({build_threads} threads)")
    t = time.perf_counter()
    owner = np.asarray([partition_of(str(key), partitions) for key in range(n)])
    for part in range(partitions):
        keys = np.nonzero(owner == part)[0]
        index = new_index(dims, "i8")
        index.add(keys.astype(np.uint64), to_stored(vectors[keys], "i8"), threads=build_threads)
        index.save(str(workdir / f"usearch_part_{part}.usearch"))
        del index
    builds["usearch_i8_partitioned"] = {
        "build_s": round(time.perf_counter() - t, 1),
        "size_mb": round(sum(size_mb(p) for p in workdir.glob("usearch_part_*.usearch")), 1),
        "partitions": partitions,
    }
    if usearch_only:
        builds["numpy_exact"] = {"build_s": 0.0, "size_mb": round(size_mb(workdir / "vectors.npy"), 1)}
        builds["usearch_i8_exact"] = builds["usearch_i8_hnsw_ef256"] = builds["usearch_i8_hnsw"]
        return _measure(
            ("usearch_i8_hnsw", "usearch_i8_partitioned", "usearch_i8_hnsw_ef256"),
            builds,
            workdir,
            n,
            dims,
            build_threads,
        )
    say("building FAISS flat")
    t = time.perf_counter()
    flat = faiss.IndexFlatIP(dims)
    flat.add(vectors)
    faiss.write_index(flat, str(workdir / "faiss_flat.faiss"))
    builds["faiss_flat"] = {
        "build_s": round(time.perf_counter() - t, 1),
        "size_mb": round(size_mb(workdir / "faiss_flat.faiss"), 1),
    }
    del flat
    say(f"building FAISS HNSW ({build_threads} threads)")
    t = time.perf_counter()
    hnsw = faiss.IndexHNSWFlat(dims, 16, faiss.METRIC_INNER_PRODUCT)
    hnsw.hnsw.efConstruction = 128
    hnsw.add(vectors)
    faiss.write_index(hnsw, str(workdir / "faiss_hnsw.faiss"))
    builds["faiss_hnsw"] = {
        "build_s": round(time.perf_counter() - t, 1),
        "size_mb": round(size_mb(workdir / "faiss_hnsw.faiss"), 1),
    }
    del hnsw
    builds["numpy_exact"] = {"build_s": 0.0, "size_mb": round(size_mb(workdir / "vectors.npy"), 1)}
    builds["usearch_i8_exact"] = builds["usearch_i8_hnsw_ef256"] = builds["usearch_i8_hnsw"]
    engines = (
        "usearch_i8_hnsw",
        "usearch_i8_partitioned",
        "usearch_i8_hnsw_ef256",
        "usearch_i8_exact",
        "numpy_exact",
        "faiss_flat",
        "faiss_hnsw",
    )
    return _measure(engines, builds, workdir, n, dims, build_threads)


def _measure(engines, builds: dict, workdir: Path, n: int, dims: int, build_threads: int) -> dict:
    results = []
    for engine in engines:
        say(f"measuring {engine} (1 thread, {QUERIES} queries)")
        results.append({**_run_child(engine, workdir), **builds[engine]})
    return {
        "kind": "synthetic-clustered",
        "vectors": n,
        "dims": dims,
        "threads": 1,
        "build_threads": build_threads,
        "engines": results,
    }


def real(catalog: Path, workdir: Path) -> dict:
    """A built catalog: queries are its own vectors (read back) with a little noise; exact = numpy float."""
    from edge_bml.catalog.search import Catalog

    with Catalog(catalog) as opened:
        keys, rows = [], []
        for index in opened.shards.values():
            own = np.asarray(index.keys, np.int64)
            keys.append(own)
            rows.append(np.asarray(index.get(own), np.float32))
        manifest = opened.manifest
    keys_all, matrix = np.concatenate(keys), np.concatenate(rows)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    rng = np.random.default_rng(1)
    picks = rng.choice(len(matrix), size=QUERIES, replace=len(matrix) < QUERIES)
    queries = matrix[picks] + rng.normal(scale=0.3 / np.sqrt(manifest.dims), size=(QUERIES, manifest.dims)).astype(
        np.float32
    )
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    exact = keys_all[exact_top_k(matrix, queries)]
    np.save(workdir / "queries.npy", queries)
    np.save(workdir / "exact.npy", exact)
    (workdir / "meta.json").write_text(json.dumps({"catalog": str(catalog)}))
    measured = _run_child("usearch_catalog", workdir)
    return {
        "kind": "catalog",
        "catalog": str(catalog),
        "products": manifest.total,
        "dims": manifest.dims,
        "dtype": manifest.dtype,
        "build_s": manifest.metrics.get("build_seconds"),
        "size_mb": round(size_mb(catalog), 2),
        "note": "exact = numpy float over the stored vectors read back; queries are catalog vectors plus noise",
        **measured,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="mode", required=True)
    r = sub.add_parser("real")
    r.add_argument("--catalog", type=Path, required=True)
    r.add_argument("--out", type=Path)
    s = sub.add_parser("synthetic")
    s.add_argument("--vectors", type=int, default=1_000_000)
    s.add_argument("--dims", type=int, default=256)
    s.add_argument("--build-threads", type=int, default=2, help="threads for index builds (queries use 1)")
    s.add_argument("--partitions", type=int, default=4, help="hash partitions of the partitioned run (default 4)")
    s.add_argument("--usearch-only", action="store_true", help="skip the FAISS and exact engines (faster)")
    s.add_argument("--out", type=Path)
    c = sub.add_parser("child")
    c.add_argument("engine")
    c.add_argument("workdir", type=Path)
    args = parser.parse_args(argv)
    if args.mode == "child":
        print(json.dumps(_child(args.engine, args.workdir)))
        return 0
    with tempfile.TemporaryDirectory(prefix="edge_bml_bench_") as tmp:
        result = (
            real(args.catalog, Path(tmp))
            if args.mode == "real"
            else synthetic(
                args.vectors,
                args.dims,
                Path(tmp),
                build_threads=args.build_threads,
                partitions=args.partitions,
                usearch_only=args.usearch_only,
            )
        )
    result["measured_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    result["load_average_1min_at_end"] = round(os.getloadavg()[0], 2)
    print_and_save(result, args.out)
    return 0


def print_and_save(result: dict, out: Path | None) -> None:
    """Print a script's result JSON and, with ``out``, write it there for ``benchmarks.report``."""
    text = json.dumps(result, indent=2)
    print(text)
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text + "\n")


if __name__ == "__main__":
    sys.exit(main())
