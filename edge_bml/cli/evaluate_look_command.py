"""``edge-bml evaluate look``: detection mAP, category precision@5, gated share and stage latency."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from edge_bml.catalog.progress import progress_callback
from edge_bml.cli.arg_types import positive_int, thread_count, top_k
from edge_bml.cli.evaluate_command import add_kind_map_flag, annotations_path, evaluate_subparsers
from edge_bml.cli.look_command import add_look_options, options_from_args


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = evaluate_subparsers(commands).add_parser("look", help="the whole look on CCP photos with a catalog")
    parser.add_argument("--data", type=Path, required=True, help="CCP folder, its annotations.json, or the data folder")
    parser.add_argument("--split", default=None, help="only images of this split (default: all)")
    parser.add_argument("--limit", type=positive_int, default=None, help="only the first N images")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    add_kind_map_flag(parser)
    add_look_options(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from edge_bml.evaluation.detector_eval import load_annotations
    from edge_bml.evaluation.look_eval import evaluate_look
    from edge_bml.evaluation.same_kind import load_kind_map
    from edge_bml.pipeline import LookPipeline

    images = load_annotations(annotations_path(args.data), split=args.split)[: args.limit]
    kind_map = load_kind_map(args.kind_map)

    progress = progress_callback("evaluating")

    with LookPipeline(options_from_args(args)) as pipeline:
        ccp_dir = annotations_path(args.data).parent
        result = evaluate_look(
            pipeline, [i["path"] for i in images], images, progress=progress, ccp_dir=ccp_dir, kind_map=kind_map
        )
        result["models"] = pipeline.models
    result.update(split=args.split, catalog=str(args.catalog) if args.catalog else None)
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"{result['images']} photos ({args.split or 'all'}), models: {result['models']}")
    print(f"  detection mAP@0.5 {result['map50']:.4f}   mAP@[.5:.95] {result['map50_95']:.4f}")
    for label, ap in result["ap50_per_category"].items():
        print(f"    {label:<10} AP@0.5 {ap:.3f}")
    precision = result["category_precision_at_5"]
    print(
        f"  category precision@5 (whole catalog) {'-' if precision is None else f'{precision:.3f}'}"
        f" over {result['articles_scored']} articles"
    )
    print(f"  gated (not full shots): {result['gated_share']:.1%}")
    if result["photo_level"]:
        _print_photo_level(result["photo_level"])
    if result.get("lookalike", {}).get("lookalike_colour_ratio") is not None:
        from edge_bml.cli.evaluate_retrieval_command import print_lookalike

        weight = args.colour_weight if args.colour_weight is not None else "the catalog's default"
        print_lookalike({**result["lookalike"], "colour_weight": weight})
    if "same_kind" in result:
        from edge_bml.evaluation.same_kind import print_same_kind

        print_same_kind(result["same_kind"])
    for stage, figures in result["latency_ms"].items():
        print(f"  {stage:<15} p50 {figures['p50']:>7.1f} ms   p95 {figures['p95']:>7.1f} ms")
    return 0


def _print_photo_level(figures: dict) -> None:
    print(
        f"  per photo ({figures['photos_scored']}): labelled categories covered by the products returned "
        f"{figures['labelled_category_coverage']:.3f}, returned products of a labelled category "
        f"{figures['returned_product_precision']:.3f}"
    )


def add_naive_parser(commands: argparse._SubParsersAction) -> None:
    parser = evaluate_subparsers(commands).add_parser(
        "naive-baseline", help="the whole photo as one plain-backbone query, brute force: the look's reference"
    )
    parser.add_argument("--data", type=Path, required=True, help="CCP folder, its annotations.json, or the data folder")
    parser.add_argument("--catalog", type=Path, required=True, help="a catalog built with the plain backbone")
    parser.add_argument(
        "--embedder",
        help="the plain-backbone variant (default: the one that built the catalog, installed or beside it)",
    )
    parser.add_argument("--split", default=None, help="only images of this split (default: all)")
    parser.add_argument("--limit", type=positive_int, default=None, help="only the first N images")
    parser.add_argument("--top-k", type=top_k, default=5, help="products returned per photo")
    parser.add_argument(
        "--threads", type=thread_count, default=None, help="inference threads per model (default: the runtime's)"
    )
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    parser.set_defaults(func=run_naive)


def run_naive(args: argparse.Namespace) -> int:
    from edge_bml.catalog.search import Catalog
    from edge_bml.evaluation.detector_eval import load_annotations
    from edge_bml.evaluation.naive_baseline import NaiveWholeImageSearch, evaluate_naive
    from edge_bml.stages.catalog_embedder import embedder_spec_for, open_embedder

    images = load_annotations(annotations_path(args.data), split=args.split)[: args.limit]
    with Catalog(args.catalog) as catalog:
        spec = embedder_spec_for(args.catalog, catalog.manifest, args.embedder)
        with open_embedder(spec, catalog=catalog.manifest, threads=args.threads) as embedder:
            search = NaiveWholeImageSearch(embedder, catalog)
            result = evaluate_naive(search, [i["path"] for i in images], images, k=args.top_k)
            result["embedder"] = embedder.manifest.name
    result.update(split=args.split, catalog=str(args.catalog))
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"naive whole-image baseline, {result['images']} photos ({args.split or 'all'}), {result['embedder']}")
    _print_photo_level(result)
    for stage, figures in result["latency_ms"].items():
        print(f"  {stage:<15} p50 {figures['p50']:>7.1f} ms   p95 {figures['p95']:>7.1f} ms")
    return 0
