"""``edge-bml catalog build|info|add|remove|verify``: make and maintain a product catalog folder."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from edge_bml.catalog.attributes import parse_where, where_text
from edge_bml.catalog.build import DEFAULT_MAX_SHARD_SIZE, build_catalog
from edge_bml.catalog.catalog_manifest import read_catalog_manifest
from edge_bml.catalog.colour_rerank import DEFAULT_COLOUR_WEIGHT
from edge_bml.catalog.edit import add_products, remove_products
from edge_bml.catalog.products import ColumnMap
from edge_bml.catalog.search import Catalog
from edge_bml.catalog.vectors import DTYPES
from edge_bml.cli.arg_types import MAX_BATCH, int_in, non_negative_float, positive_int, thread_count
from edge_bml.errors import CatalogError
from edge_bml.stages.catalog_embedder import open_embedder


def _columns(args: argparse.Namespace) -> ColumnMap:
    return ColumnMap(id=args.id_col, file=args.file_col, category=args.category_col, title=args.title_col)


def _add_table_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--images",
        required=True,
        help="folder the file column is relative to (with --engine ray also a file:// or object-store URI)",
    )
    parser.add_argument(
        "--items",
        required=True,
        help="product table: CSV with a header (with --engine ray also Parquet, and a file:// or object-store URI)",
    )
    parser.add_argument("--id-col", default="id", help="the table's product id column (default: id)")
    parser.add_argument(
        "--file-col", default="file", help="the photo file column, relative to --images (default: file)"
    )
    parser.add_argument("--category-col", default="category", help="the article category column (default: category)")
    parser.add_argument("--title-col", default=None, help="a column shown as the product's title (default: none)")
    parser.add_argument("--embedder", help="embedder variant folder or name (default: the installed one)")
    parser.add_argument(
        "--threads", type=thread_count, default=None, help="inference threads per model (default: the runtime's)"
    )
    parser.add_argument(
        "--batch",
        "--batch-size",
        dest="batch",
        type=int_in(1, MAX_BATCH),
        default=16,
        help="crops per inference batch (1-1024)",
    )


def _build(args: argparse.Namespace) -> int:
    if args.engine == "ray":
        return _build_on_ray(args)
    embedder = open_embedder(args.embedder, threads=args.threads)
    started = time.perf_counter()
    manifest = build_catalog(
        args.items,
        args.images,
        args.out,
        embedder,
        columns=_columns(args),
        dtype=args.dtype,
        colour_weight=args.colour_weight,
        resume=args.resume,
        batch_size=args.batch,
        max_shard_size=args.max_shard_size,
        overwrite=args.overwrite,
        default_where=parse_where(args.default_where),
    )
    print(
        f"built {args.out}: {manifest.total} products in {len(manifest.counts)} categories, "
        f"{time.perf_counter() - started:.1f} s; unreadable images: {manifest.metrics['unreadable_images']} "
        f"(see {Path(args.out) / 'build_report.json'}); recall@10 vs exact f32: "
        f"{manifest.metrics['recall_at_10_vs_exact_f32']}"
    )
    return 0


def _info(args: argparse.Namespace) -> int:
    manifest = read_catalog_manifest(args.catalog)
    data = manifest.to_json()
    data["size_bytes"] = sum(f.stat().st_size for f in Path(args.catalog).rglob("*") if f.is_file())
    if args.json:
        print(json.dumps(data, indent=2))
        return 0
    print(
        f"{args.catalog}: {manifest.total} products, {manifest.dims}-d {manifest.dtype} {manifest.metric}, "
        f"embedder {manifest.embedder_name} ({manifest.embedder_sha256[:12]}), built {manifest.built_at}, "
        f"{data['size_bytes'] / 1e6:.2f} MB"
    )
    for category, count in manifest.counts.items():
        print(f"  {category:<12} {count}")
    if manifest.default_where:
        print(f"  default filter: {where_text(manifest.default_where)}")
    return 0


def _add(args: argparse.Namespace) -> int:
    manifest = read_catalog_manifest(args.catalog)
    embedder = open_embedder(args.embedder, catalog=manifest, threads=args.threads)
    updated, failures = add_products(
        args.catalog, args.items, args.images, embedder, columns=_columns(args), batch_size=args.batch
    )
    print(
        f"{args.catalog}: {updated.total - manifest.total} added ({len(failures)} unreadable), {updated.total} in all"
    )
    return 0


def _build_on_ray(args: argparse.Namespace) -> int:
    from edge_bml.catalog.ray_build import RayOptions, build_catalog_on_ray

    if args.resume:
        raise CatalogError("--resume is for local builds; a Ray build re-embeds what it needs")
    from edge_bml.stages.catalog_embedder import embedder_variant

    manifest_of_embedder = embedder_variant(args.embedder, threads=1)  # the actors load it; the driver need not
    started = time.perf_counter()
    manifest, rate = build_catalog_on_ray(
        args.items,
        args.images,
        args.out,
        manifest_of_embedder,
        options=RayOptions(address=args.ray_address, workers=args.workers, batch_size=args.batch),
        columns=_columns(args),
        dtype=args.dtype,
        colour_weight=args.colour_weight,
        max_shard_size=args.max_shard_size,
        overwrite=args.overwrite,
        default_where=parse_where(args.default_where),
    )
    print(
        f"built {args.out} on Ray ({args.workers} workers): {manifest.total} products in {len(manifest.counts)} "
        f"categories, {time.perf_counter() - started:.1f} s ({rate:.1f} products/s embedding); unreadable images: "
        f"{manifest.metrics['unreadable_images']} (see {Path(args.out) / 'build_report.json'})"
    )
    return 0


def _compare(args: argparse.Namespace) -> int:
    from edge_bml.catalog.compare import compare_catalogs

    result = compare_catalogs(args.catalog, args.other, queries=args.queries)
    print(json.dumps(result))
    return 0 if result["counts_equal"] and result["colours_differing"] == 0 else 1


def _add_catalog_args(parser: argparse.ArgumentParser) -> None:
    """``--catalog DIR`` like every other command, and the older positional ``DIR`` as an alias."""
    parser.add_argument("--catalog", dest="catalog_flag", type=Path, help="catalog folder")
    parser.add_argument("catalog", nargs="?", type=Path, help="the catalog folder (same as --catalog)")


def _with_catalog(handler):
    def run(args: argparse.Namespace) -> int:
        if args.catalog_flag is not None and args.catalog is not None and args.catalog_flag != args.catalog:
            raise CatalogError(f"two catalogs given: --catalog {args.catalog_flag} and {args.catalog}; give one")
        args.catalog = args.catalog_flag or args.catalog
        if args.catalog is None:
            raise CatalogError("no catalog given: add --catalog DIR")
        return handler(args)

    return run


def _remove_command(args: argparse.Namespace) -> int:
    if args.catalog_flag is None:
        if len(args.ids) < 2:
            raise CatalogError("give the catalog (--catalog DIR) and at least one product id")
        args.catalog, args.ids = Path(args.ids[0]), args.ids[1:]
    else:
        args.catalog = args.catalog_flag
    return _remove(args)


def _remove(args: argparse.Namespace) -> int:
    updated = remove_products(args.catalog, args.ids)
    print(f"{args.catalog}: removed {len(args.ids)}, {updated.total} left")
    return 0


def _verify(args: argparse.Namespace) -> int:
    with Catalog(args.catalog, trust=False, use_stamp=False) as catalog:  # always hash every file
        manifest = catalog.manifest
    print(f"{args.catalog}: ok, {len(manifest.files)} files match their sizes and sha256, {manifest.total} products")
    return 0


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("catalog", help="build and maintain a product catalog (USearch shards)")
    actions = parser.add_subparsers(dest="action", required=True)
    build = actions.add_parser("build", help="embed product photos into per-category shards")
    _add_table_args(build)
    build.add_argument("--out", required=True, type=Path, help="catalog folder, e.g. catalog_shards/NAME")
    build.add_argument("--dtype", choices=DTYPES, default="i8", help="stored vector type (default i8)")
    build.add_argument("--resume", action="store_true", help="reuse embeddings of an interrupted build")
    build.add_argument(
        "--overwrite",
        action="store_true",
        help="replace --out even if it is a file or a folder that is not a catalog (default: refuse)",
    )
    build.add_argument(
        "--max-shard-size",
        type=positive_int,
        default=DEFAULT_MAX_SHARD_SIZE,
        metavar="N",
        help=f"split a category of more products into hash partitions, one shard each ({DEFAULT_MAX_SHARD_SIZE:,})",
    )
    build.add_argument(
        "--engine",
        choices=("local", "ray"),
        default="local",
        help="local: this process (default); ray: an actor pool on Ray Data (pip install -e '.[scale]')",
    )
    build.add_argument(
        "--ray-address", default=None, help="a running Ray cluster (e.g. 10.0.0.1:6379); default: a local Ray"
    )
    build.add_argument("--workers", type=positive_int, default=2, help="Ray actors, one embedder each (default 2)")
    build.add_argument(
        "--colour-weight",
        type=non_negative_float,
        default=DEFAULT_COLOUR_WEIGHT,
        help=f"default weight of the worn colour in the ranking, kept in catalog.json ({DEFAULT_COLOUR_WEIGHT})",
    )
    build.add_argument(
        "--default-where",
        action="append",
        default=[],
        metavar="COLUMN=V1[,V2]",
        help="a filter every search of the catalog applies unless told otherwise (e.g. a kiosk in one "
        "department: gender=Women,Unisex); repeatable: AND across columns, OR within one; kept in catalog.json",
    )
    build.set_defaults(func=_build)
    info = actions.add_parser("info", help="what a catalog holds")
    _add_catalog_args(info)
    info.add_argument("--json", action="store_true", help="print catalog.json's figures as JSON")
    info.set_defaults(func=_with_catalog(_info))
    add = actions.add_parser("add", help="embed and add more products")
    _add_catalog_args(add)
    _add_table_args(add)
    add.set_defaults(func=_with_catalog(_add))
    remove = actions.add_parser("remove", help="remove products by id")
    remove.add_argument("--catalog", dest="catalog_flag", type=Path, help="catalog folder")
    remove.add_argument(
        "ids", nargs="+", metavar="ID", help="product ids (without --catalog, the first is the catalog folder)"
    )
    remove.set_defaults(func=_remove_command)
    compare = actions.add_parser("compare", help="counts and top-k agreement of two catalogs of one table")
    compare.add_argument("--catalog", required=True, type=Path, help="one catalog folder")
    compare.add_argument("--other", required=True, type=Path, help="the other catalog folder")
    compare.add_argument("--queries", type=positive_int, default=20, help="searches compared (default 20)")
    compare.set_defaults(func=_compare)
    verify = actions.add_parser("verify", help="check every catalog file against the sizes and sha256 it records")
    verify.add_argument("--catalog", required=True, type=Path, help="catalog folder")
    verify.set_defaults(func=_verify)
