"""``edge-bml search IMAGE --catalog DIR``: the nearest catalog products of one article photo."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from edge_bml.catalog.attributes import parse_where, where_text
from edge_bml.catalog.catalog_manifest import read_catalog_manifest
from edge_bml.catalog.search import Catalog
from edge_bml.cli.arg_types import non_negative_float, thread_count, top_k
from edge_bml.cli.shared_flags import add_trust_flag, add_where_flag
from edge_bml.cli.terminal_text import printable
from edge_bml.foreground import garment_colour
from edge_bml.image_io import read_image
from edge_bml.stages.catalog_embedder import open_embedder
from edge_bml.timing import StageTimer


def run(args: argparse.Namespace) -> int:
    timer = StageTimer()
    manifest = read_catalog_manifest(args.catalog)
    embedder = open_embedder(args.embedder, catalog=manifest, threads=args.threads)
    with Catalog(args.catalog, trust=args.trust) as catalog:
        catalog.check_embedder(embedder)
        run_timer = StageTimer()
        with run_timer.stage("decode"):
            image = read_image(args.image)
        with run_timer.stage("embed"):
            vector = embedder.embed([image])[0]
        with run_timer.stage("search"):
            colour = garment_colour(image)
            matches = catalog.search(
                vector,
                category=args.category,
                k=args.top_k,
                colour=colour,
                colour_weight=args.colour_weight,
                where=parse_where(args.where),
            )
        note = None
        if not len(matches) and catalog.passing_count(parse_where(args.where), args.category) == 0:
            kind = f"{args.category} products" if args.category else "products"
            note = f"no {kind} in the catalog with {where_text(catalog.resolve_where(parse_where(args.where)))}"
    timings = run_timer.as_dict()
    timings["load"] = timer.as_dict()["total"] - timings["total"]
    if args.json:
        print(
            json.dumps(
                {
                    "matches": [m.to_json() for m in matches],
                    "timings_ms": {k: round(v, 2) for k, v in timings.items()},
                    **({"note": note} if note else {}),
                }
            )
        )
        return 0
    if note:
        print(note)
    for rank, match in enumerate(matches, start=1):
        text = "  ".join(printable(v) for v in (match.id, match.title or "", match.file or ""))
        print(f"{rank:>3}. {match.score:.3f}  {printable(match.category):<10} {text}")
    print(f"decode {timings['decode']:.1f} ms, embed {timings['embed']:.1f} ms, search {timings['search']:.2f} ms")
    return 0


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("search", help="find catalog products like an article photo")
    parser.add_argument("image", type=Path, metavar="IMAGE", help="a photo of one article (used whole)")
    parser.add_argument("--catalog", required=True, type=Path, help="a built catalog folder")
    add_trust_flag(parser)
    parser.add_argument("--category", help="search only this category (default: all)")
    parser.add_argument("--top-k", type=top_k, default=10, help="matches to return (default 10)")
    add_where_flag(parser)
    parser.add_argument("--json", action="store_true", help="print the matches as JSON")
    parser.add_argument("--embedder", help="embedder variant folder or name (default: the catalog's)")
    parser.add_argument(
        "--colour-weight",
        type=non_negative_float,
        default=None,
        help="how much the crop's colour counts (default: the catalog's; 0: appearance only)",
    )
    parser.add_argument(
        "--threads", type=thread_count, default=None, help="inference threads per model (default: the runtime's)"
    )
    parser.set_defaults(func=run)
