"""``catalog build --engine ray``: embed a product table on a Ray cluster, then write the same catalog.

Ray Data reads nothing but the rows; an actor pool (``ActorPoolStrategy``), one INT8 embedder per
actor, reads each photo (a local path, a ``file://`` URI or any URI pyarrow's filesystems open, such as
``s3://``), finds its foreground and colour and embeds it, in batches. The vectors are written as
Parquet parts beside the output, then read back by the driver, which writes the per-category shards,
product table, ``build_report.json`` and ``catalog.json`` with the local build's own code
(``build.write_catalog``), aside and renamed into place.

Ray lives in the ``scale`` extra (``pip install -e '.[scale]'``); only this module imports it, and
nothing in the look, the server or the local build imports this module.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge_bml.catalog.build import (
    DEFAULT_MAX_SHARD_SIZE,
    BuildOutput,
    check_not_input,
    product_view,
    variant_identity,
    write_catalog,
)
from edge_bml.catalog.colour_rerank import DEFAULT_COLOUR_WEIGHT
from edge_bml.catalog.products import ColumnMap, Product, locate_image, products_from_rows
from edge_bml.catalog.staging import catalog_writer, check_replaceable, disk_full
from edge_bml.catalog.vectors import DTYPES
from edge_bml.errors import CatalogError, EdgeBmlError, ImageError
from edge_bml.image_io import MAX_FILE_BYTES, decode_image, read_file_bounded
from edge_bml.manifest import ModelManifest

DEFAULT_BATCH = 32


class RayUnavailableError(EdgeBmlError):
    """Ray is not installed, or the cluster cannot be reached."""


@dataclass(frozen=True)
class RayOptions:
    """Where and how wide the embedding runs: ``address`` of a running cluster (None: a local Ray
    started for the run), ``workers`` actors (one embedder and one CPU each), ``batch_size`` photos a call."""

    address: str | None = None
    workers: int = 2
    batch_size: int = DEFAULT_BATCH


def _is_uri(location: str) -> bool:
    return "://" in location and not location.startswith("file://")


def _local(location: str) -> str:
    return location[len("file://") :] if location.startswith("file://") else location


def read_location(location: str, *, max_bytes: int = MAX_FILE_BYTES) -> bytes:
    """The bytes at a local path, a ``file://`` URI or a pyarrow filesystem URI, at most ``max_bytes``.

    Raises:
        ImageError: missing, unreadable or too large.
    """
    if not _is_uri(location):
        return read_file_bounded(_local(location), max_bytes=max_bytes)
    from pyarrow import fs

    try:
        filesystem, path = fs.FileSystem.from_uri(location)
        with filesystem.open_input_stream(path) as stream:
            data = stream.read(max_bytes + 1)
    except (OSError, ValueError) as error:
        raise ImageError(f"{location}: cannot read: {error}") from error
    if len(data) > max_bytes:
        raise ImageError(f"{location}: over {max_bytes} bytes")
    return data


def read_product_table(table: str, images: str, *, columns: ColumnMap) -> tuple[list[Product], list]:
    """Products of a CSV or Parquet table (path or URI) whose photos lie under ``images`` (path or URI).

    Local photos must resolve inside the images folder; URI photos must not climb out of it (``..``).

    Raises:
        CatalogError: the table cannot be read or is malformed; CatalogColumnError: a column is missing.
    """
    try:
        data = read_location(table, max_bytes=1 << 34)
    except ImageError as error:
        raise CatalogError(f"product table {table}: {error}") from error
    if table.lower().endswith(".parquet"):
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            frame = pq.read_table(io.BytesIO(data))
        except (pa.ArrowException, OSError) as error:
            raise CatalogError(f"{table}: not a readable Parquet table ({error}); rewrite or re-export it") from None
        header = frame.column_names
        rows = enumerate(frame.to_pylist(), start=1)
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise CatalogError(f"{table}: not UTF-8 text; save the product table as UTF-8") from error
        reader = csv.DictReader(io.StringIO(text, newline=""))
        try:  # read it all now, so a malformed row is one line here and not a traceback from a generator
            header = list(reader.fieldnames or ())
            rows = list(enumerate(reader, start=2))
        except csv.Error as error:
            raise CatalogError(f"{table} line {reader.line_num + 1}: {error}; check that line's quotes") from None
    if _is_uri(images):
        root = images.rstrip("/")

        def locate(file: str) -> str | None:
            parts = file.split("/")
            return None if file.startswith("/") or "://" in file or ".." in parts else f"{root}/{file}"
    else:
        folder = Path(_local(images))

        def locate(file: str) -> Path:
            return locate_image(folder, file)

    return products_from_rows(rows, header, columns=columns, table=table, locate=locate, images=images)


class _EmbedActor:
    """One embedder per actor; a batch of rows in, their vectors, colours and errors out."""

    def __init__(self, variant: str, dims: int) -> None:
        from edge_bml.manifest import load_manifest
        from edge_bml.stages.embedder import ArticleEmbedder

        self.embedder = ArticleEmbedder(load_manifest(variant), threads=1)
        self.fill = bool(self.embedder.manifest.decoder.get("foreground_fill", False))
        self.dims = dims

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        ids = [str(i) for i in batch["id"]]
        views, ok, colours, errors = [], [], np.zeros((len(ids), 3), np.float32), [""] * len(ids)
        for row, location in enumerate(batch["image"]):
            try:
                view, colour = product_view(
                    decode_image(read_location(str(location)), name=str(location)), fill=self.fill
                )
            except (ImageError, OSError) as error:
                errors[row] = str(error)
                continue
            views.append(view)
            ok.append(row)
            colours[row] = colour
        vectors = np.zeros((len(ids), self.dims), np.float32)
        if views:
            vectors[ok] = self.embedder.embed(views, batch_size=len(views))
        return {"id": np.asarray(ids), "vector": vectors, "colour": colours, "error": np.asarray(errors)}


def build_catalog_on_ray(
    table: str,
    images: str,
    out: str | Path,
    embedder_manifest: ModelManifest,
    *,
    options: RayOptions | None = None,
    columns: ColumnMap | None = None,
    dtype: str = "i8",
    colour_weight: float = DEFAULT_COLOUR_WEIGHT,
    max_shard_size: int = DEFAULT_MAX_SHARD_SIZE,
    overwrite: bool = False,
    default_where: dict[str, tuple[str, ...]] | None = None,
) -> tuple:
    """Embed on Ray and write the catalog ``out``; returns (manifest, products per second of embedding).

    ``default_where`` is stored as the catalog's default attribute filter (as ``build_catalog``).

    Raises:
        RayUnavailableError: Ray is not installed or the cluster cannot be reached.
        CatalogError: bad dtype or table, or no product could be embedded.
        CatalogOutputError: ``out`` is not a catalog folder and ``overwrite`` is off (checked first).
        CatalogBusyError: another writer held ``out`` for too long.
    """
    try:
        import ray
        import ray.data
    except ImportError as error:
        raise RayUnavailableError("--engine ray needs Ray: pip install -e '.[scale]'") from error
    options = options or RayOptions()
    if dtype not in DTYPES:
        raise CatalogError(f"--dtype must be one of {DTYPES}, got {dtype!r}")
    if options.workers < 1 or options.batch_size < 1:
        raise CatalogError(
            f"--workers and --batch-size must be at least 1, got {options.workers}, {options.batch_size}"
        )
    columns = columns or ColumnMap()
    out = Path(out)
    check_not_input(out, _local(table) if not _is_uri(table) else "", _local(images) if not _is_uri(images) else "")
    check_replaceable(out, overwrite=overwrite)
    with catalog_writer(out):  # held through embedding: the parts folder beside out is this build's
        products, skipped = read_product_table(table, images, columns=columns)
        if not products:
            raise CatalogError(f"{table}: no usable product rows ({len(skipped)} skipped)")
        dims = int(embedder_manifest.decoder.get("dims") or 0)
        if dims < 1:
            raise CatalogError(f"{embedder_manifest.name}: the manifest must give decoder.dims for a Ray build")
        started = dt.datetime.now(dt.UTC)
        parts = out.with_name(f".{out.name}.ray-parts")
        shutil.rmtree(parts, ignore_errors=True)
        own_cluster = not ray.is_initialized()
        if own_cluster:
            try:
                if options.address:
                    ray.init(address=options.address, log_to_driver=False)
                else:  # "local": a new Ray, never one found through RAY_ADDRESS or an earlier `ray start`
                    ray.init(address="local", num_cpus=options.workers, include_dashboard=False, log_to_driver=False)
            except (ConnectionError, RuntimeError, ValueError) as error:
                where = f"reach the Ray cluster at {options.address}" if options.address else "start a local Ray"
                raise RayUnavailableError(f"cannot {where}: {error}") from error
        try:
            try:
                clock = time.perf_counter()
                rows = [{"id": p.id, "image": str(p.image)} for p in products]
                dataset = ray.data.from_items(rows, override_num_blocks=max(options.workers * 4, 1))
                embedded = dataset.map_batches(
                    _EmbedActor,
                    fn_constructor_args=(str(embedder_manifest.directory), dims),
                    compute=ray.data.ActorPoolStrategy(size=options.workers),
                    batch_size=options.batch_size,
                    num_cpus=1,
                )
                embedded.write_parquet(str(parts))
                seconds = time.perf_counter() - clock
            finally:
                if own_cluster:
                    ray.shutdown()
        except Exception as error:
            shutil.rmtree(parts, ignore_errors=True)
            full = disk_full(error, out)
            if full is not None:
                raise full from None
            raise
        built = _read_parts(parts, products, skipped)
        shutil.rmtree(parts, ignore_errors=True)
        manifest = write_catalog(
            out,
            built,
            embedder=variant_identity(embedder_manifest),
            dtype=dtype,
            columns=columns,
            source={"items_csv": _resolved(table), "images_dir": _resolved(images)},
            colour_weight=colour_weight,
            started=started,
            seconds=seconds,
            extra_metrics={"engine": "ray", "ray_workers": options.workers, "ray_batch_size": options.batch_size},
            max_shard_size=max_shard_size,
            overwrite=overwrite,
            default_where=default_where,
        )
        return manifest, len(products) / max(seconds, 1e-9)


def _resolved(location: str) -> str:
    return location if _is_uri(location) else str(Path(_local(location)).resolve())


def _read_parts(parts: Path, products: list[Product], skipped: list) -> BuildOutput:
    import pyarrow.parquet as pq

    table = pq.read_table(str(parts))
    ids = [str(i) for i in table.column("id").to_pylist()]
    errors = table.column("error").to_pylist()
    vectors = np.asarray(table.column("vector").to_pylist(), np.float32)
    colours = np.asarray(table.column("colour").to_pylist(), np.float32)
    found = dict.fromkeys(ids)
    missing = [p.id for p in products if p.id not in found]
    if missing:
        raise CatalogError(f"the Ray run returned no result for {len(missing)} products, e.g. {missing[:3]}")
    good = {i: n for n, i in enumerate(ids) if not errors[n]}
    return BuildOutput(
        products,
        skipped,
        vectors={i: vectors[n] for i, n in good.items()},
        failures={i: errors[n] for n, i in enumerate(ids) if errors[n]},
        colours={i: colours[n] for i, n in good.items()},
    )
