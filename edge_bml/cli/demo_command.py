"""``edge-bml demo``: the main job end to end on sample CCP photos, with the default models.

Builds the default catalog (the clothing data set) into ``catalog_shards/clothing`` the first time,
then runs the whole look on full-shot photos: a per-article table with the stage timings, and a
self-contained HTML page with the photos, boxes and product thumbnails.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from edge_bml.cli.arg_types import positive_int, thread_count
from edge_bml.data_paths import catalogs_dir, data_dir


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("demo", help="run the whole look on sample full-shot photos from $EDGE_BML_DATA")
    parser.add_argument("--count", type=positive_int, default=6, help="how many CCP val photos (default 6)")
    parser.add_argument(
        "--catalog", type=Path, help="catalog folder (default: catalog_shards/clothing, built if missing)"
    )
    parser.add_argument("--out", type=Path, default=Path("out"), help="folder for the HTML page (default out/)")
    parser.add_argument(
        "--threads", type=thread_count, default=None, help="inference threads per model (default: the runtime's)"
    )
    parser.set_defaults(func=run)


def ensure_default_catalog(root: Path, target: Path, *, threads: int | None = None) -> Path:
    """Build the clothing catalog into ``target`` unless a catalog is already there."""
    from edge_bml.catalog.build import build_catalog
    from edge_bml.catalog.catalog_manifest import read_catalog_manifest
    from edge_bml.catalog.products import ColumnMap
    from edge_bml.errors import CatalogError
    from edge_bml.stages.catalog_embedder import open_embedder

    try:
        read_catalog_manifest(target)
        return target
    except CatalogError:
        pass
    print(f"building the default catalog {target} from {root / 'clothing'} (once; a few minutes) ...")
    started = time.perf_counter()
    columns = ColumnMap(title="label")
    with open_embedder(None, threads=threads) as embedder:
        manifest = build_catalog(
            root / "clothing" / "items.csv", root / "clothing", target, embedder, columns=columns, dtype="i8"
        )
    print(f"built {target}: {manifest.total} products in {time.perf_counter() - started:.0f} s")
    return target


def run(args: argparse.Namespace) -> int:
    from edge_bml.cli.look_command import run_looks
    from edge_bml.pipeline import LookOptions

    root = data_dir()
    catalog = args.catalog or ensure_default_catalog(root, catalogs_dir() / "clothing", threads=args.threads)
    annotations = json.loads((root / "ccp" / "annotations.json").read_text())
    photos = [root / "ccp" / image["file"] for image in annotations["images"] if image["split"] == "val"]
    args.out.mkdir(parents=True, exist_ok=True)
    options = LookOptions(catalog=catalog, top_k=5, threads=args.threads)
    return run_looks(photos[: args.count], options, html=args.out / "look.html", command="edge-bml demo")
