"""Building a catalog: read the product table, embed photos in batches, write per-category shards."""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from edge_bml.catalog.catalog_manifest import (
    REPORT_FILE,
    CatalogManifest,
    file_records,
    partition_of,
    product_row,
    shard_paths,
    write_catalog_manifest,
    write_products_file,
)
from edge_bml.catalog.colour_rerank import COLOUR_VERSION, DEFAULT_COLOUR_WEIGHT, colour_settings
from edge_bml.catalog.embedding_cache import EmbeddingCache
from edge_bml.catalog.products import ColumnMap, Product, read_products
from edge_bml.catalog.progress import Progress
from edge_bml.catalog.recall_check import recall_vs_exact
from edge_bml.catalog.shards import PartitionedShard, new_index, shard_parts
from edge_bml.catalog.staging import catalog_writer, check_replaceable, staged_directory
from edge_bml.catalog.vectors import DTYPES, METRIC, to_stored
from edge_bml.colour import median_lab
from edge_bml.errors import CatalogDiskFullError, CatalogError, CatalogOutputError, ImageError
from edge_bml.foreground import neutral_fill, product_foreground
from edge_bml.image_io import read_image
from edge_bml.manifest import sha256_file, write_json_atomic

CHUNK = 256
# A category with more products is split into hash partitions of at most this many vectors, each its
# own memory-mapped shard (search fans out and merges): HNSW build and open times stay bounded.
DEFAULT_MAX_SHARD_SIZE = 1_000_000


def embedder_identity(embedder) -> tuple[str, str]:
    """(name, sha256 of the model file) that a catalog records and search checks."""
    return variant_identity(embedder.manifest)


def variant_identity(manifest) -> tuple[str, str]:
    """(name, sha256 of the model file) of an embedder variant's manifest."""
    return manifest.name, manifest.sha256[manifest.model_file]


def product_view(image: np.ndarray, *, fill: bool) -> tuple[np.ndarray, np.ndarray]:
    """What the embedder sees of a product photo, and the garment's colour (median CIELAB of its foreground).

    With ``fill`` (an embedder trained on garments on a neutral backdrop), everything but the
    garment is replaced by the neutral grey, as the look does with article crops.
    """
    mask = product_foreground(image)
    colour = median_lab(image, mask)
    if colour is None:
        colour = median_lab(image)
    return (neutral_fill(image, mask) if fill else image), colour


def embed_products(
    products: list[Product],
    embedder,
    cache: EmbeddingCache,
    *,
    batch_size: int,
    on_progress: Callable[[int, int], None] | None,
    chunk: int = CHUNK,
) -> tuple[dict[str, np.ndarray], dict[str, str], dict[str, np.ndarray]]:
    """Vectors, failure reasons and garment colours (CIELAB) by product id; chunks are cached as they finish."""
    vectors, failures, colours = cache.load()
    todo = [p for p in products if p.id not in vectors and p.id not in failures]
    progress = Progress(len(products), label="embed", start=len(products) - len(todo))
    chunk_number = cache.chunk_count()
    fill = bool(embedder.manifest.decoder.get("foreground_fill", False))
    for start in range(0, len(todo), chunk):
        chunk_vectors, chunk_failures, crops, ids, chunk_colours = {}, {}, [], [], {}
        for product in todo[start : start + chunk]:
            try:
                view, chunk_colours[product.id] = product_view(read_image(product.image), fill=fill)
                crops.append(view)
                ids.append(product.id)
            except (ImageError, OSError) as error:
                chunk_failures[product.id] = str(error)
        for begin in range(0, len(crops), batch_size):
            embedded = embedder.embed(crops[begin : begin + batch_size], batch_size=batch_size)
            chunk_vectors.update(zip(ids[begin : begin + batch_size], embedded, strict=True))
            progress.update(len(embedded))
        if chunk_failures:
            progress.update(len(chunk_failures))
        cache.save_chunk(chunk_number, chunk_vectors, chunk_failures, chunk_colours)
        chunk_number += 1
        vectors.update(chunk_vectors)
        failures.update(chunk_failures)
        colours.update({i: chunk_colours[i] for i in chunk_vectors})
        if on_progress is not None:
            on_progress(len(vectors) + len(failures), len(products))
    progress.close()
    return vectors, failures, colours


@dataclasses.dataclass(frozen=True)
class BuildOutput:
    """What embedding a product table produced, whichever engine ran it (local or Ray)."""

    products: list[Product]
    skipped: list
    vectors: dict[str, np.ndarray]
    failures: dict[str, str]
    colours: dict[str, np.ndarray]


def _why_nothing(built: BuildOutput, source: dict) -> str:
    """Why no product of a table made it into a catalog, in one line: how many rows were refused and why,
    how many photos could not be read, with an example of each."""
    where = source.get("images_dir", "the images folder")
    parts = []
    if built.skipped:
        first = built.skipped[0]
        parts.append(
            f"{len(built.skipped)} of {len(built.skipped) + len(built.products)} rows refused (e.g. line "
            f"{first.line}: {first.reason}; photos must lie inside --images, resolved to {where}, and a "
            "symbolic link inside it may not point out of it)"
        )
    if built.failures:
        product, error = next(iter(built.failures.items()))
        parts.append(f"{len(built.failures)} photos unreadable (e.g. {product}: {error})")
    return "; ".join(parts) or "the table has no product rows"


def write_catalog(
    out: Path,
    built: BuildOutput,
    *,
    embedder: tuple[str, str],
    dtype: str,
    columns: ColumnMap,
    source: dict,
    colour_weight: float,
    started: dt.datetime,
    seconds: float,
    extra_metrics: dict | None = None,
    max_shard_size: int = DEFAULT_MAX_SHARD_SIZE,
    overwrite: bool = False,
    default_where: dict[str, tuple[str, ...]] | None = None,
) -> CatalogManifest:
    """Per-category shards, the product table, ``build_report.json`` and ``catalog.json`` of ``out``,
    written aside and renamed into place; every engine ends here, so their catalogs are alike.

    ``out`` may be a catalog (replaced whole) or an empty or missing folder; anything else only with ``overwrite``.
    ``default_where`` is stored as the filter every search applies unless told otherwise.

    Raises:
        CatalogError: no product was embedded.
        CatalogOutputError: ``out`` is not a catalog folder and ``overwrite`` is off.
        CatalogFilterError: ``default_where`` names a column the product table does not have.
    """
    vectors, failures = built.vectors, built.failures
    kept = [p for p in built.products if p.id in vectors]
    if not kept:
        raise CatalogError(f"nothing to build: {_why_nothing(built, source)}")
    check_default_where(default_where, kept)
    name, sha = embedder
    dims = int(next(iter(vectors.values())).shape[0])
    rows, shards, by_category = [], {}, {}
    for key_number, product in enumerate(kept):
        by_category.setdefault(product.category, []).append(key_number)
        rows.append(product_row(key_number, product, built.colours[product.id]))
    matrix = np.stack([vectors[p.id] for p in kept]).astype(np.float32)
    if max_shard_size < 1:
        raise CatalogError(f"--max-shard-size must be at least 1, got {max_shard_size}")
    partitions = {c: -(-len(k) // max_shard_size) for c, k in by_category.items() if len(k) > max_shard_size}
    for category, keys in sorted(by_category.items()):
        count = partitions.get(category, 1)
        parts = [[] for _ in range(count)]
        for key in keys:
            parts[partition_of(kept[key].id, count)].append(key)
        indexes = []
        for part in parts:
            index = new_index(dims, dtype)
            if part:
                index.add(np.asarray(part, np.uint64), to_stored(matrix[part], dtype))
            indexes.append(index)
        shards[category] = indexes[0] if count == 1 else PartitionedShard(indexes)
    recall = recall_vs_exact(shards, matrix, dtype=dtype, k=10, sample=500)
    manifest = CatalogManifest(
        embedder_name=name,
        embedder_sha256=sha,
        dims=dims,
        dtype=dtype,
        metric=METRIC,
        counts={c: len(k) for c, k in sorted(by_category.items())},
        partitions=dict(sorted(partitions.items())),
        default_where=dict(sorted((default_where or {}).items())),
        built_at=started.isoformat(timespec="seconds"),
        columns=vars(columns),
        source=source,
        colour=colour_settings(colour_weight),
        metrics={
            "build_seconds": round(seconds, 1),
            "recall_at_10_vs_exact_f32": recall,
            "unreadable_images": len(failures),
            "skipped_rows": len(built.skipped),
            **(extra_metrics or {}),
        },
    )
    with staged_directory(out, overwrite=overwrite) as staging:
        (staging / "shards").mkdir()
        for category, shard in shards.items():
            paths = shard_paths(staging, category, partitions.get(category, 1))
            for index, path in zip(shard_parts([shard]), paths, strict=True):
                index.save(str(path))
        write_products_file(staging, rows)
        write_json_atomic(
            staging / REPORT_FILE,
            {
                "unreadable_images": [{"id": i, "error": e} for i, e in sorted(failures.items())],
                "skipped_rows": [vars(s) for s in built.skipped],
            },
        )
        manifest = dataclasses.replace(manifest, files=file_records(staging, manifest.counts, partitions))
        write_catalog_manifest(staging, manifest)
    return manifest


def check_not_input(out: Path, *inputs: str | Path) -> None:
    """Refuse an ``out`` that is, or holds, one of the build's own inputs (its table or images), even with
    ``--overwrite``: the build would replace what it reads.

    Raises:
        CatalogOutputError: ``out`` is an input or a folder above one.
    """
    target = out.resolve()
    for given in inputs:
        if not given or "://" in str(given):
            continue
        source = Path(given).resolve()
        if source == target or target in source.parents:
            raise CatalogOutputError(f"--out {out} would replace the build's own input {given}; choose another --out")


def check_default_where(default_where: dict | None, products: list[Product]) -> None:
    """Refuse a default filter on a column the products do not carry.

    Raises:
        CatalogFilterError: a column the product table lacks.
    """
    from edge_bml.catalog.attributes import AttributeIndex

    columns = {c: "" for p in products for c in p.attributes}
    AttributeIndex([{"key": 0, "attributes": columns}]).check(default_where)


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
    colour_weight: float = DEFAULT_COLOUR_WEIGHT,
    max_shard_size: int = DEFAULT_MAX_SHARD_SIZE,
    overwrite: bool = False,
    default_where: dict[str, tuple[str, ...]] | None = None,
) -> CatalogManifest:
    """Embed every product photo and write the catalog folder ``out`` (aside, then renamed).

    Unreadable photos and skipped rows (empty id or category, a category that is not a safe name, a
    file outside ``images_dir``) are listed in ``build_report.json``. ``catalog.json`` records the
    size and sha256 of every shard and of the product table, and the resolved source paths.
    Each product's garment colour (median CIELAB of its photo's foreground) is stored with it;
    ``colour_weight`` is the catalog's default weight of colour in the ranking (``catalog.json``).
    Embeddings are cached every ``chunk`` products so ``resume`` can pick up an interrupted build;
    ``on_progress(done, total)`` is called after each chunk. The build holds ``out``'s writer lock
    throughout, so another build, ``add`` or ``remove`` of the same catalog waits for it. ``default_where``
    (column -> values) is stored in ``catalog.json`` as the attribute filter searches apply unless told otherwise.

    Raises:
        CatalogError: bad dtype, missing CSV, duplicate ids, or no product could be embedded.
        CatalogColumnError: a named column is missing from the CSV.
        CatalogOutputError: ``out`` is the table or the images folder (or holds them), or it is a file or
            a non-empty folder without ``catalog.json`` and ``overwrite`` is off (checked before any embedding).
        CatalogBusyError: another writer held ``out`` for too long.
        CatalogFilterError: ``default_where`` names a column the CSV does not have.
        CatalogDiskFullError: the disk filled up; the staging folder and the embedding cache are removed.
    """
    if dtype not in DTYPES:
        raise CatalogError(f"--dtype must be one of {DTYPES}, got {dtype!r}")
    columns = columns or ColumnMap()
    items_csv, images_dir, out = Path(items_csv), Path(images_dir), Path(out)
    check_not_input(out, items_csv, images_dir)
    check_replaceable(out, overwrite=overwrite)  # before any embedding; again under the lock at the swap
    with catalog_writer(out):
        products, skipped = read_products(items_csv, images_dir, columns=columns)
        source = {"items_csv": str(items_csv.resolve()), "images_dir": str(images_dir.resolve())}
        if not products:  # say why before loading anything
            raise CatalogError(f"nothing to build: {_why_nothing(BuildOutput([], skipped, {}, {}, {}), source)}")
        check_default_where(default_where, products)
        name, sha = embedder_identity(embedder)
        key = {
            "embedder": sha,
            "items": sha256_file(items_csv),
            "images": str(images_dir.resolve()),
            "columns": vars(columns),
            "colour": COLOUR_VERSION,
        }
        cache = EmbeddingCache(out, key, resume=resume)
        started = dt.datetime.now(dt.UTC)
        clock = time.perf_counter()
        try:
            vectors, failures, colours = embed_products(
                products, embedder, cache, batch_size=batch_size, on_progress=on_progress, chunk=chunk
            )
            manifest = write_catalog(
                out,
                BuildOutput(products, skipped, vectors, failures, colours),
                embedder=(name, sha),
                dtype=dtype,
                columns=columns,
                source=source,
                colour_weight=colour_weight,
                started=started,
                seconds=time.perf_counter() - clock,
                max_shard_size=max_shard_size,
                overwrite=overwrite,
                default_where=default_where,
            )
        except CatalogDiskFullError:
            cache.remove()  # a full disk keeps nothing of the build, the cache included
            raise
        cache.remove()
        return manifest
