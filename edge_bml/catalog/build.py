"""Building a catalog: read the product table, embed photos in batches, write per-category shards."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from edge_bml.catalog.catalog_manifest import (
    REPORT_FILE,
    CatalogManifest,
    shard_path,
    write_catalog_manifest,
    write_products_file,
)
from edge_bml.catalog.embedding_cache import EmbeddingCache
from edge_bml.catalog.products import ColumnMap, Product, read_products
from edge_bml.catalog.progress import Progress
from edge_bml.catalog.recall_check import recall_vs_exact
from edge_bml.catalog.shards import new_index
from edge_bml.catalog.staging import staged_directory
from edge_bml.catalog.vectors import DTYPES, METRIC, to_stored
from edge_bml.errors import CatalogError, ImageError
from edge_bml.image_io import read_image
from edge_bml.manifest import sha256_file, write_json_atomic

CHUNK = 256


def embedder_identity(embedder) -> tuple[str, str]:
    """(name, sha256 of the model file) that a catalog records and search checks."""
    manifest = embedder.manifest
    return manifest.name, manifest.sha256[manifest.model_file]


def embed_products(
    products: list[Product],
    embedder,
    cache: EmbeddingCache,
    *,
    batch_size: int,
    on_progress: Callable[[int, int], None] | None,
    chunk: int = CHUNK,
) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Vectors by product id, and why each unreadable photo failed; chunks are cached as they finish."""
    vectors, failures = cache.load()
    todo = [p for p in products if p.id not in vectors and p.id not in failures]
    progress = Progress(len(products), label="embed", start=len(products) - len(todo))
    chunk_number = len(list(cache.folder.glob("chunk_*.npz")))
    for start in range(0, len(todo), chunk):
        chunk_vectors, chunk_failures, crops, ids = {}, {}, [], []
        for product in todo[start : start + chunk]:
            try:
                crops.append(read_image(product.image))
                ids.append(product.id)
            except (ImageError, OSError) as error:
                chunk_failures[product.id] = str(error)
        for begin in range(0, len(crops), batch_size):
            embedded = embedder.embed(crops[begin : begin + batch_size], batch_size=batch_size)
            chunk_vectors.update(zip(ids[begin : begin + batch_size], embedded, strict=True))
            progress.update(len(embedded))
        if chunk_failures:
            progress.update(len(chunk_failures))
        cache.save_chunk(chunk_number, chunk_vectors, chunk_failures)
        chunk_number += 1
        vectors.update(chunk_vectors)
        failures.update(chunk_failures)
        if on_progress is not None:
            on_progress(len(vectors) + len(failures), len(products))
    progress.close()
    return vectors, failures


def build_catalog(
    items_csv: str | Path,
    images_dir: str | Path,
    out: str | Path,
    embedder,
    *,
    columns: ColumnMap | None = None,
    dtype: str = "i8",
    resume: bool = False,
    batch_size: int = 16,
    on_progress: Callable[[int, int], None] | None = None,
    chunk: int = CHUNK,
) -> CatalogManifest:
    """Embed every product photo and write the catalog folder ``out`` (aside, then renamed).

    Unreadable photos and rows with an empty id or category are listed in ``build_report.json``.
    Embeddings are cached every ``chunk`` products so ``resume`` can pick up an interrupted build;
    ``on_progress(done, total)`` is called after each chunk.

    Raises:
        CatalogError: bad dtype, missing CSV, duplicate ids, or no product could be embedded.
        CatalogColumnError: a named column is missing from the CSV.
    """
    if dtype not in DTYPES:
        raise CatalogError(f"--dtype must be one of {DTYPES}, got {dtype!r}")
    columns = columns or ColumnMap()
    items_csv, images_dir, out = Path(items_csv), Path(images_dir), Path(out)
    products, skipped = read_products(items_csv, images_dir, columns=columns)
    name, sha = embedder_identity(embedder)
    key = {
        "embedder": sha,
        "items": sha256_file(items_csv),
        "images": str(images_dir.resolve()),
        "columns": vars(columns),
    }
    cache = EmbeddingCache(out, key, resume=resume)
    started = dt.datetime.now(dt.UTC)
    clock = time.perf_counter()
    vectors, failures = embed_products(
        products, embedder, cache, batch_size=batch_size, on_progress=on_progress, chunk=chunk
    )
    kept = [p for p in products if p.id in vectors]
    if not kept:
        raise CatalogError(
            f"no product photo under {images_dir} could be read ({len(failures)} failed); nothing to build"
        )
    dims = int(next(iter(vectors.values())).shape[0])
    rows, shards, by_category = [], {}, {}
    for key_number, product in enumerate(kept):
        by_category.setdefault(product.category, []).append(key_number)
        rows.append(
            {
                "key": key_number,
                "id": product.id,
                "category": product.category,
                "title": product.title,
                "file": product.file,
                "extra": product.extra,
            }
        )
    matrix = np.stack([vectors[p.id] for p in kept]).astype(np.float32)
    for category, keys in sorted(by_category.items()):
        index = new_index(dims, dtype)
        index.add(np.asarray(keys, np.uint64), to_stored(matrix[keys], dtype))
        shards[category] = index
    recall = recall_vs_exact(shards, matrix, dtype=dtype, k=10, sample=500)
    manifest = CatalogManifest(
        embedder_name=name,
        embedder_sha256=sha,
        dims=dims,
        dtype=dtype,
        metric=METRIC,
        counts={c: len(k) for c, k in sorted(by_category.items())},
        built_at=started.isoformat(timespec="seconds"),
        columns=vars(columns),
        source={"items_csv": str(items_csv), "images_dir": str(images_dir)},
        metrics={
            "build_seconds": round(time.perf_counter() - clock, 1),
            "recall_at_10_vs_exact_f32": recall,
            "unreadable_images": len(failures),
            "skipped_rows": len(skipped),
        },
    )
    with staged_directory(out) as staging:
        (staging / "shards").mkdir()
        for category, index in shards.items():
            index.save(str(shard_path(staging, category)))
        write_products_file(staging, rows)
        write_json_atomic(
            staging / REPORT_FILE,
            {
                "unreadable_images": [{"id": i, "error": e} for i, e in sorted(failures.items())],
                "skipped_rows": [vars(s) for s in skipped],
            },
        )
        write_catalog_manifest(staging, manifest)
    cache.remove()
    return manifest
