"""``edge-bml evaluate retrieval``: category precision of street crops and instance recall of held-out items."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from edge_bml.cli.arg_types import non_negative_float, positive_int, thread_count, top_k
from edge_bml.cli.evaluate_command import add_kind_map_flag, evaluate_subparsers


def run(args: argparse.Namespace) -> int:
    from edge_bml.catalog.catalog_manifest import read_catalog_manifest
    from edge_bml.catalog.search import Catalog
    from edge_bml.errors import CatalogError
    from edge_bml.evaluation.lookalike import catalog_colours, lookalike_figures, lookalike_queries
    from edge_bml.evaluation.retrieval import category_precision, instance_recall, read_holdout, record_retrieval
    from edge_bml.evaluation.same_kind import load_kind_map
    from edge_bml.runtime_choice import RuntimeChoice
    from edge_bml.stages.article_views import optional_parser
    from edge_bml.stages.catalog_embedder import open_embedder

    kind_map = load_kind_map(args.kind_map)
    manifest = read_catalog_manifest(args.catalog)
    embedder = open_embedder(args.embedder, catalog=manifest, threads=args.threads)
    holdout_file = args.holdout or embedder.manifest.directory / "holdout_ids.json"
    with Catalog(args.catalog) as catalog:
        catalog.check_embedder(embedder)
        result = {"embedder": embedder.manifest.name, "catalog": str(args.catalog), "split": args.split}
        parser = optional_parser(RuntimeChoice(threads=args.threads)) if args.parser else None
        try:
            queries = lookalike_queries(
                catalog, embedder, args.queries, split=args.split, limit=args.limit, parser=parser
            )
        finally:
            if parser is not None:
                parser.close()
        result["parser"] = parser.manifest.name if parser is not None else None
        colours = catalog_colours(catalog)
        result.update(
            lookalike_figures(catalog, queries, colour_weight=args.colour_weight, colours=colours, kind_map=kind_map)
        )
        if args.colour_weights:
            result["lookalike_sweep"] = [
                lookalike_figures(catalog, queries, colour_weight=w, colours=colours, kind_map=kind_map)
                for w in args.colour_weights
            ]
        result.update(category_precision(catalog, embedder, args.queries, split=args.split, limit=args.limit))
        if args.no_instance:
            result.update(instance_recall_at_1=None, instance_recall_at_10=None, instance_queries=0)
        else:
            if not Path(holdout_file).is_file():
                raise CatalogError(f"no held-out list at {holdout_file}: pass --holdout FILE or --no-instance")
            result.update(
                instance_recall(catalog, embedder, args.queries, read_holdout(Path(holdout_file)), limit=args.limit)
            )
    result["queries"] = {"category": result.pop("category_queries"), "instance": result.pop("instance_queries")}
    if args.record:
        record_retrieval(embedder.manifest, result, manifest.dtype)
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"embedder {result['embedder']} on {args.catalog}, CCP {args.split}")
    print_lookalike(result)
    print_same_kind(result)
    for row in result.get("lookalike_sweep", []):
        print_lookalike(row)
        print_same_kind(row)
    print(
        f"category precision@1 {result['category_precision_at_1']}  @5 {result['category_precision_at_5']} "
        f"({result['queries']['category']} crops)"
    )
    for category, figures in result["per_category"].items():
        print(
            f"  {category:<10} n={figures['queries']:<4} P@1 {figures['precision_at_1']:.3f}  "
            f"P@5 {figures['precision_at_5']:.3f}"
        )
    print(
        f"instance recall@1 {result['instance_recall_at_1']}  @10 {result['instance_recall_at_10']} "
        f"({result['queries']['instance']} held-out items)"
    )
    return 0


def print_same_kind(figures: dict) -> None:
    """The same-kind figures (``evaluation.same_kind``), where the run had a kind map."""
    from edge_bml.evaluation.same_kind import print_same_kind as show

    if "same_kind_at_5" in figures:
        show(figures)


def print_lookalike(figures: dict) -> None:
    """The look-alike colour figures, overall and per category."""
    if figures.get("lookalike_colour_ratio") is None:
        print("look-alike colour: no queries")
        return
    print(
        f"look-alike colour at weight {figures['colour_weight']}: ΔE {figures['lookalike_colour_de']} "
        f"(chance {figures['lookalike_colour_chance_de']}, oracle {figures['lookalike_colour_oracle_de']}), "
        f"ratio {figures['lookalike_colour_ratio']} over {figures['lookalike_queries']} articles"
    )
    for category, row in figures["lookalike_per_category"].items():
        print(
            f"  {category:<10} n={row['queries']:<4} ΔE {row['lookalike_colour_de']:>6.2f}  "
            f"chance {row['lookalike_colour_chance_de']:>6.2f}  oracle {row['lookalike_colour_oracle_de']:>6.2f}  "
            f"ratio {row['lookalike_colour_ratio']}"
        )


def run_overlap(args: argparse.Namespace) -> int:
    from edge_bml.catalog.search import Catalog
    from edge_bml.evaluation.neighbour_overlap import neighbour_overlap

    with Catalog(args.catalog) as candidate, Catalog(args.reference) as reference:
        result = neighbour_overlap(candidate, reference, k=args.top_k)
    result.update(candidate=candidate.manifest.embedder_name, reference=reference.manifest.embedder_name)
    print(
        json.dumps(result)
        if args.json
        else f"top-{args.top_k} neighbour overlap {result['neighbour_overlap']} "
        f"over {result['products']} products ({result['candidate']} vs {result['reference']})"
    )
    return 0


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = evaluate_subparsers(commands).add_parser(
        "retrieval",
        help="look-alike colour of matches, category precision@1/@5 of CCP crops, instance recall of held-out items",
    )
    parser.add_argument("--catalog", required=True, type=Path, help="a catalog built with the embedder evaluated")
    parser.add_argument("--queries", required=True, type=Path, help="CCP folder (annotations.json, photos/, tagged/)")
    parser.add_argument("--split", default="val", help="CCP split of the street queries (default val)")
    parser.add_argument("--embedder", help="embedder variant folder or name (default: the catalog's)")
    parser.add_argument("--holdout", type=Path, help="holdout_ids.json (default: beside the embedder)")
    parser.add_argument("--no-instance", action="store_true", help="skip the instance-retrieval part")
    parser.add_argument("--limit", type=positive_int, default=None, help="only the first N images / held-out items")
    parser.add_argument(
        "--threads", type=thread_count, default=None, help="inference threads per model (default: the runtime's)"
    )
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    parser.add_argument("--record", action="store_true", help="store the figures in the embedder's manifest")
    parser.add_argument(
        "--parser", action="store_true", help="look-alike colours from the garment parser's masks (as look --parser)"
    )
    parser.add_argument(
        "--colour-weight",
        type=non_negative_float,
        default=None,
        help="weight of the worn colour in the look-alike ranking (default: the catalog's; 0: embedder only)",
    )
    parser.add_argument(
        "--colour-weights",
        type=non_negative_float,
        nargs="+",
        default=None,
        metavar="W",
        help="also report the look-alike figures at each of these weights (to tune a catalog's default)",
    )
    add_kind_map_flag(parser)
    parser.set_defaults(func=run)
    overlap = evaluate_subparsers(commands).add_parser(
        "embedder-overlap", help="top-k neighbour overlap of two catalogs of the same products (INT8 vs FP32)"
    )
    overlap.add_argument("--catalog", required=True, type=Path, help="built with the candidate (e.g. INT8) embedder")
    overlap.add_argument("--reference", required=True, type=Path, help="built with the reference (FP32) embedder")
    overlap.add_argument("--top-k", type=top_k, default=10, help="neighbours compared (default 10)")
    overlap.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    overlap.set_defaults(func=run_overlap)
