"""Adding products to and removing products from a built catalog, each as one atomic swap."""

from __future__ import annotations

import dataclasses
import datetime as dt
import shutil
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from edge_bml.catalog.build import embed_products, embedder_identity
from edge_bml.catalog.catalog_manifest import (
    SHARDS_DIR,
    CatalogManifest,
    check_embedder,
    file_records,
    partition_of,
    product_row,
    read_catalog_manifest,
    read_products_file,
    shard_paths,
    verify_catalog_files,
    write_catalog_manifest,
    write_products_file,
)
from edge_bml.catalog.embedding_cache import EmbeddingCache
from edge_bml.catalog.products import ColumnMap, read_products
from edge_bml.catalog.shards import new_index, open_shard
from edge_bml.catalog.staging import catalog_writer, staged_directory
from edge_bml.catalog.vectors import to_stored
from edge_bml.errors import CatalogError
from edge_bml.manifest import sha256_file, write_json_atomic


def _copy_into(source: Path, staging: Path) -> None:
    for entry in source.iterdir():
        if entry.is_dir():
            shutil.copytree(entry, staging / entry.name)
        else:
            shutil.copy2(entry, staging / entry.name)


def _with_counts(manifest: CatalogManifest, counts: dict[str, int], note: str, staging: Path) -> CatalogManifest:
    history = list(manifest.metrics.get("edits", [])) + [
        {"at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "what": note}
    ]
    metrics = {**manifest.metrics, "edits": history}
    counts = dict(sorted(counts.items()))
    partitions = {c: n for c, n in manifest.partitions.items() if c in counts}
    files = file_records(staging, counts, partitions)
    return dataclasses.replace(manifest, counts=counts, metrics=metrics, files=files, partitions=partitions)


def add_products(
    directory: str | Path,
    items_csv: str | Path,
    images_dir: str | Path,
    embedder,
    *,
    columns: ColumnMap | None = None,
    batch_size: int = 16,
) -> tuple[CatalogManifest, dict[str, str]]:
    """Embed the products of ``items_csv`` and add them; returns the new manifest and unreadable photos.

    ``catalog.json``'s file records (sizes and sha256) are updated.

    The catalog's writer lock is held throughout, and its files are checked against ``catalog.json``
    before anything is changed.

    Raises:
        CatalogError: not a catalog, an id already in it, or nothing readable to add.
        CatalogIntegrityError: a catalog file differs from its record (the catalog is left as it is).
        CatalogBusyError: another writer held the catalog too long.
        CatalogEmbedderMismatchError: ``embedder`` is not the one that built the catalog.
        CatalogColumnError: a named column is missing from the CSV.
    """
    directory = Path(directory)
    read_catalog_manifest(directory)  # not a catalog: say so before taking a lock beside it
    with catalog_writer(directory):
        return _add_locked(directory, Path(items_csv), Path(images_dir), embedder, columns, batch_size)


def _read_sound(directory: Path) -> tuple[CatalogManifest, list[dict]]:
    """The catalog's manifest and product rows, read under its writer lock after its files were checked,
    so that an edit never re-records the hashes of a damaged file."""
    manifest = read_catalog_manifest(directory)
    verify_catalog_files(directory, manifest, hashes=True, use_stamp=True)
    return manifest, read_products_file(directory)


def _add_locked(directory: Path, items_csv: Path, images_dir: Path, embedder, columns, batch_size: int):
    manifest, rows = _read_sound(directory)
    check_embedder(directory, manifest, *embedder_identity(embedder))
    products, _ = read_products(items_csv, images_dir, columns=columns or ColumnMap())
    existing = {row["id"] for row in rows}
    clash = sorted(p.id for p in products if p.id in existing)
    if clash:
        raise CatalogError(f"{len(clash)} id(s) are already in {directory}, e.g. {clash[:3]}; remove them first")
    cache = EmbeddingCache(directory, {"add": sha256_file(items_csv)}, resume=False)
    vectors, failures, colours = embed_products(products, embedder, cache, batch_size=batch_size, on_progress=None)
    cache.remove()
    new = [p for p in products if p.id in vectors]
    if not new:
        raise CatalogError(f"none of the {len(products)} products in {items_csv} could be embedded")
    next_key = max((int(row["key"]) for row in rows), default=-1) + 1
    counts = dict(manifest.counts)
    with staged_directory(directory) as staging:
        _copy_into(directory, staging)
        (staging / SHARDS_DIR).mkdir(exist_ok=True)
        for category in sorted({p.category for p in new}):
            members = [p for p in new if p.category == category]
            keys = np.arange(next_key, next_key + len(members), dtype=np.uint64)
            count = manifest.partitions.get(category, 1)
            for part, path in enumerate(shard_paths(staging, category, count)):
                mine = [i for i, p in enumerate(members) if partition_of(p.id, count) == part]
                if not mine:
                    continue
                index = open_shard(path, view=False) if path.is_file() else new_index(manifest.dims, manifest.dtype)
                index.add(keys[mine], to_stored(np.stack([vectors[members[i].id] for i in mine]), manifest.dtype))
                index.save(str(path))
            for key, p in zip(keys.tolist(), members, strict=True):
                rows.append(product_row(key, p, colours[p.id]))
            next_key += len(members)
            counts[category] = counts.get(category, 0) + len(members)
        write_products_file(staging, rows)
        write_json_atomic(staging / "add_report.json", {"unreadable_images": failures})
        updated = _with_counts(manifest, counts, f"added {len(new)} from {items_csv}", staging)
        write_catalog_manifest(staging, updated)
    return updated, failures


def remove_products(directory: str | Path, ids: Iterable[str]) -> CatalogManifest:
    """Remove products by id; a category left empty loses its shard; file records are updated.

    Like ``add_products``, under the writer lock and after checking the catalog's files.

    Raises:
        CatalogError: not a catalog, or an id that is not in it.
        CatalogIntegrityError: a catalog file differs from its record (the catalog is left as it is).
        CatalogBusyError: another writer held the catalog too long.
    """
    directory = Path(directory)
    wanted = set(ids)
    read_catalog_manifest(directory)
    with catalog_writer(directory):
        return _remove_locked(directory, wanted)


def _remove_locked(directory: Path, wanted: set[str]) -> CatalogManifest:
    manifest, rows = _read_sound(directory)
    unknown = sorted(wanted - {row["id"] for row in rows})
    if unknown:
        raise CatalogError(f"{len(unknown)} id(s) are not in {directory}: {unknown[:5]}")
    doomed = [row for row in rows if row["id"] in wanted]
    counts = dict(manifest.counts)
    with staged_directory(directory) as staging:
        _copy_into(directory, staging)
        for category in sorted({row["category"] for row in doomed}):
            gone = [row for row in doomed if row["category"] == category]
            count = manifest.partitions.get(category, 1)
            paths = shard_paths(staging, category, count)
            counts[category] -= len(gone)
            if counts[category] <= 0:
                for path in paths:
                    path.unlink()
                del counts[category]
                continue
            for part, path in enumerate(paths):
                keys = [int(row["key"]) for row in gone if partition_of(row["id"], count) == part]
                if keys:
                    index = open_shard(path, view=False)
                    index.remove(np.asarray(keys, np.uint64))
                    index.save(str(path))
        write_products_file(staging, [row for row in rows if row["id"] not in wanted])
        updated = _with_counts(manifest, counts, f"removed {len(doomed)}", staging)
        write_catalog_manifest(staging, updated)
    return updated
