"""``edge-bml catalog build|info|add|remove|verify``: make and maintain a product catalog folder."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from edge_bml.catalog.build import build_catalog
from edge_bml.catalog.catalog_manifest import read_catalog_manifest
from edge_bml.catalog.colour_rerank import DEFAULT_COLOUR_WEIGHT
from edge_bml.catalog.edit import add_products, remove_products
from edge_bml.catalog.products import ColumnMap
from edge_bml.catalog.search import Catalog
from edge_bml.catalog.vectors import DTYPES
from edge_bml.cli.arg_types import non_negative_float, positive_int
from edge_bml.errors import CatalogError
from edge_bml.stages.catalog_embedder import open_embedder


def _columns(args: argparse.Namespace) -> ColumnMap:
    return ColumnMap(id=args.id_col, file=args.file_col, category=args.category_col, title=args.title_col)


def _add_table_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--images", required=True, type=Path, help="folder the file column is relative to")
    parser.add_argument("--items", required=True, type=Path, help="product table (CSV with a header)")
    parser.add_argument("--id-col", default="id", help="the table's product id column (default: id)")
    parser.add_argument(
        "--file-col", default="file", help="the photo file column, relative to --images (default: file)"
    )
    parser.add_argument("--category-col", default="category", help="the article category column (default: category)")
    parser.add_argument("--title-col", default=None, help="a column shown as the product's title (default: none)")
    parser.add_argument("--embedder", help="embedder variant folder or name (default: the installed one)")
    parser.add_argument(
        "--threads", type=positive_int, default=None, help="inference threads per model (default: the runtime's)"
    )
    parser.add_argument("--batch", type=int, default=16, help="crops per inference batch")


def _build(args: argparse.Namespace) -> int:
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
    if not manifest.files:
        print(
            f"{args.catalog}: opens and matches its counts ({manifest.total} products), but it records no "
            "file hashes (built before they were kept); rebuild it to have them checked"
        )
        return 0
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
        "--colour-weight",
        type=non_negative_float,
        default=DEFAULT_COLOUR_WEIGHT,
        help=f"default weight of the worn colour in the ranking, kept in catalog.json ({DEFAULT_COLOUR_WEIGHT})",
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
    verify = actions.add_parser("verify", help="check every catalog file against the sizes and sha256 it records")
    verify.add_argument("--catalog", required=True, type=Path, help="catalog folder")
    verify.set_defaults(func=_verify)
