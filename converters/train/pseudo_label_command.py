"""Argument parsing of ``edge-bml-convert pseudo-label detector``; the work is in ``detector_pseudo_labels``."""

from __future__ import annotations

import argparse
from pathlib import Path

from edge_bml.cli.nested_commands import nested_subparsers

DEFAULT_VARIANT = Path(__file__).resolve().parents[2] / "quantized_models" / "article_detector_fp32_onnx"


def add_pseudo_label_parser(commands: argparse._SubParsersAction) -> None:
    """Register ``pseudo-label detector``: boxes for CCP's tag-only photos, for detector training."""
    models = nested_subparsers(commands, "pseudo-label", help="label unannotated photos with a model", dest="model")
    parser = models.add_parser(
        "detector", help="pseudo boxes for ccp/tagged/ photos (tagged categories only), CCP-format JSON"
    )
    parser.add_argument("--data", type=Path, required=True, help="the shared data folder (holds ccp/)")
    parser.add_argument(
        "--out", type=Path, required=True, help="annotations JSON to write (keep it outside the repository)"
    )
    parser.add_argument("--variant", type=Path, default=DEFAULT_VARIANT, help="detector variant folder (FP32 ONNX)")
    parser.add_argument(
        "--floor", type=float, default=None, help="lowest keep threshold per category (default: PRECISION_FLOOR)"
    )
    parser.add_argument("--limit", type=int, default=None, help="only the first N tagged photos")
    parser.add_argument("--threads", type=int, default=1, help="inference threads per model (default 1)")
    parser.set_defaults(func=run_pseudo_label)


def run_pseudo_label(args: argparse.Namespace) -> int:
    from converters.train.detector_pseudo_labels import PRECISION_FLOOR, pseudo_label_tagged

    floor = PRECISION_FLOOR if args.floor is None else args.floor
    summary = pseudo_label_tagged(
        args.data, args.out, variant=args.variant, floor=floor, limit=args.limit, threads=args.threads
    )
    print(
        f"wrote {args.out}: {summary['labelled_photos']} photos, {summary['boxes']} boxes, "
        f"{summary['review_items']} tagged categories without a box (to review), "
        f"{summary['photos_without_person']} photos without a person"
    )
    print("boxes per category:", summary["boxes_per_category"])
    print("review per category:", summary["review_per_category"])
    return 0
