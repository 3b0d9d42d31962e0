"""``edge-bml evaluate <stage>``: accuracy of a stage on annotated data; ``detector`` lives here.

Other stages register beside it with ``evaluate_subparsers(commands).add_parser("retrieval", ...)``.
"""

from __future__ import annotations

import argparse
import json
from contextlib import contextmanager
from pathlib import Path

from edge_bml.cli.arg_types import positive_int
from edge_bml.cli.nested_commands import nested_subparsers
from edge_bml.cli.shared_flags import add_runtime_flags
from edge_bml.errors import ModelNotFoundError


def evaluate_subparsers(commands: argparse._SubParsersAction) -> argparse._SubParsersAction:
    """The ``evaluate`` command's stage subparsers, created on first use."""
    return nested_subparsers(commands, "evaluate", help="measure a stage's accuracy on annotated data", dest="stage")


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = evaluate_subparsers(commands).add_parser(
        "detector", help="COCO-style AP of the article detector on a CCP-format annotations.json"
    )
    parser.add_argument(
        "--data", type=Path, required=True, help="annotations.json, or a folder holding it or ccp/annotations.json"
    )
    parser.add_argument("--split", default=None, help="only images of this split (default: all)")
    parser.add_argument("--model", type=Path, help="a detector variant folder (default: the registry's pick)")
    add_runtime_flags(parser)
    parser.add_argument(
        "--person-crop", default="pose", choices=("pose", "gt"), help="person box from the pose stage or the truth"
    )
    parser.add_argument("--limit", type=positive_int, default=None, help="only the first N images")
    parser.add_argument(
        "--keep-contradictions",
        action="store_true",
        help="do not resolve boxes of mutually exclusive categories (the figures before that rule)",
    )
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    parser.set_defaults(func=run)
    add_parser_evaluation(commands)


def annotations_path(data: Path) -> Path:
    """The annotations file ``--data`` names.

    Raises:
        ModelNotFoundError: none is there.
    """
    for candidate in (data, data / "annotations.json", data / "ccp" / "annotations.json"):
        if candidate.is_file():
            return candidate
    raise ModelNotFoundError(f"no annotations.json at {data}, {data}/annotations.json or {data}/ccp/annotations.json")


def _variant(args: argparse.Namespace, task: str):
    """``--model``, else the registry's pick for ``task`` by ``--backend/--precision/--threads``."""
    from edge_bml.manifest import load_manifest
    from edge_bml.model_registry import select_variant

    if args.model is not None:
        return load_manifest(args.model)
    return select_variant(task, backend=args.backend, precision=args.precision, threads=args.threads)


@contextmanager
def _pose_when(wanted: bool, threads: int | None):
    """The pose stage where the person box comes from it (as in production), else None."""
    if not wanted:
        yield None
        return
    from edge_bml.stages.pose import PoseEstimator, PoseOptions

    with PoseEstimator.create_from_options(PoseOptions(threads=threads)) as pose:
        yield pose


def run(args: argparse.Namespace) -> int:
    from edge_bml.evaluation.detector_eval import evaluate_detector, load_annotations
    from edge_bml.stages.detector import ArticleDetector

    images = load_annotations(annotations_path(args.data), split=args.split)
    if args.limit is not None:
        images = images[: args.limit]
    manifest = _variant(args, "detector")
    with _pose_when(args.person_crop == "pose", args.threads) as pose:
        with ArticleDetector(manifest, threads=args.threads) as detector:
            detector.exclusive_enabled = detector.exclusive_enabled and not args.keep_contradictions
            result = evaluate_detector(detector, images, person_crop=args.person_crop, pose_estimator=pose)
    result.update(precision=manifest.precision, model=manifest.name, split=args.split)
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"model {manifest.name} ({manifest.precision}), {result['images']} images, person crop: {args.person_crop}")
    for label, ap in result["ap50_per_category"].items():
        print(f"  {label:<10} AP@0.5 {ap:.3f}   AP@[.5:.95] {result['ap50_95_per_category'][label]:.3f}")
    print(f"mAP@0.5 {result['map50']:.4f}   mAP@[.5:.95] {result['map50_95']:.4f}")
    long = result["long_garments_as_pants"]
    print(
        f"long garments shown as pants: {long['dresses_skirts_as_pants']} of {long['dresses_skirts']} dresses "
        f"and skirts ({long['dresses_skirts_as_top_pants']} as top + pants), "
        f"{long['boots_as_pants']} of {long['boots']} boots"
    )
    pairs = result["contradictions"]
    resolved = "resolved" if result["exclusive_resolved"] else "not resolved"
    print(f"contradictory shown pairs ({resolved}): {pairs['pairs']} in {pairs['photos']} photos")
    return 0


def add_parser_evaluation(commands: argparse._SubParsersAction) -> None:
    """Register ``evaluate parser``: pixel accuracy, mIoU and mask-box mAP of the garment parser on CCP."""
    parser = evaluate_subparsers(commands).add_parser(
        "parser", help="pixel accuracy, mIoU and per-class IoU of the garment parser on CCP label maps"
    )
    parser.add_argument(
        "--data", type=Path, required=True, help="annotations.json, or a folder holding it or ccp/annotations.json"
    )
    parser.add_argument("--split", default="val", help="only images of this split (default: val)")
    parser.add_argument("--model", type=Path, help="a parser variant folder (default: the registry's pick)")
    add_runtime_flags(parser)
    parser.add_argument(
        "--person-box",
        default="pose",
        choices=("pose", "annotated"),
        help="person box from the pose stage (as in production) or the annotated one",
    )
    parser.add_argument(
        "--upsample", default="bilinear", choices=("bilinear", "nearest"), help="how logits reach the crop's size"
    )
    parser.add_argument("--limit", type=positive_int, default=None, help="only the first N images")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    parser.set_defaults(func=run_parser)


def run_parser(args: argparse.Namespace) -> int:
    from edge_bml.evaluation.parser_eval import evaluate_parser, load_parser_annotations
    from edge_bml.stages.parser import GarmentParser

    images, table = load_parser_annotations(annotations_path(args.data), split=args.split)
    if args.limit is not None:
        images = images[: args.limit]
    manifest = _variant(args, "parser")
    with _pose_when(args.person_box == "pose", args.threads) as pose:
        with GarmentParser(manifest, threads=args.threads, upsample=args.upsample) as parser:
            result = evaluate_parser(parser, images, table=table, person_box=args.person_box, pose_estimator=pose)
    result.update(precision=manifest.precision, model=manifest.name, split=args.split, upsample=args.upsample)
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"model {manifest.name} ({manifest.precision}), {result['images']} images, person box: {args.person_box}")
    for label, iou in result["iou_per_class"].items():
        print(f"  {label:<10} IoU {iou:.3f}")
    boxes = result["mask_boxes"]
    print(
        f"pixel accuracy {result['pixel_accuracy']:.4f}   mIoU {result['miou']:.4f}   "
        f"mIoU of the articles {result['miou_articles']:.4f}"
    )
    print(
        f"mask-derived boxes: mAP@0.5 {boxes['map50_softmax']:.4f} (softmax confidence), "
        f"{boxes['map50_fraction']:.4f} (pixel fraction)"
    )
    return 0


def add_kind_map_flag(parser: argparse.ArgumentParser) -> None:
    """``--kind-map FILE``: which catalog column holds the kind of garment and what each CCP label maps to."""
    parser.add_argument(
        "--kind-map",
        type=Path,
        default=None,
        metavar="FILE",
        help="JSON mapping CCP fine labels to the catalog's kind column, for same_kind_at_5 "
        "(default: the map shipped for the clothing catalog, column 'label')",
    )
