"""``edge-bml-convert tune-thresholds``: a detector's shown thresholds and exclusive-category rule, tuned on val.

The look shows an article only at or over its category's shown threshold (``class_score_thresholds``);
``--all-detections`` also shows candidates down to ``candidate_score_threshold``. The thresholds are
the F1-best per category on CCP val with the pose stage's person crop, among thresholds at which at
least ``--min-precision`` of the shown boxes are right, measured *after* boxes of
mutually exclusive categories were resolved (``edge_bml.stages.exclusive_articles``), since the
resolution changes scores. A second pass measures the result with the tuned thresholds: AP, and
the contradictory pairs left among shown boxes. Latency figures in the manifest are left alone.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from edge_bml.cli.arg_types import share
from edge_bml.errors import ManifestError
from edge_bml.evaluation.detector_eval import SHOWN_MIN_PRECISION
from edge_bml.manifest import load_manifest, write_manifest
from edge_bml.stages.exclusive_articles import ExclusiveRule

CANDIDATE_FLOOR = 0.05
KEPT_FIGURES = ("map50", "map50_95", "ap50_per_category", "ap50_95_per_category", "images", "images_without_person")


def thresholds_tuned_on(split: str, min_precision: float) -> str:
    """How shown thresholds were chosen, as the manifest records it (``decoder.thresholds_tuned_on``)."""
    return (
        f"CCP {split}, pose person crop, F1-best per class at IoU 0.5 after exclusive-category resolution, "
        f"among thresholds at which at least {min_precision:.0%} of the shown boxes are right"
    )


def tune_detector_thresholds(
    variant: Path, data_dir: Path, *, split: str = "val", pose=None, min_precision: float = SHOWN_MIN_PRECISION
) -> dict:
    """Tune and write ``variant``'s shown thresholds; returns the figures of the tuned detector.

    Raises:
        ModelNotFoundError/ManifestError: the variant is not a detector; EvaluationDataError: no data.
    """
    from edge_bml.evaluation.detector_eval import evaluate_detector, load_annotations
    from edge_bml.stages.detector import ArticleDetector
    from edge_bml.stages.pose import PoseEstimator

    manifest = load_manifest(variant)
    if manifest.task != "detector":
        raise ManifestError(f"{variant}: tune-thresholds takes detector variants, this one is a {manifest.task}")
    images = load_annotations(Path(data_dir) / "ccp" / "annotations.json", split=split)
    decoder = dict(manifest.decoder)
    # Written out in full, so the manifest names every part of the rule its thresholds were tuned under.
    rule = ExclusiveRule.from_decoder(decoder) or ExclusiveRule()
    decoder["exclusive"] = rule.to_json()
    decoder.setdefault("candidate_score_threshold", CANDIDATE_FLOOR)
    own_pose = pose is None
    pose = pose or PoseEstimator.create_from_options()
    try:
        first = dataclasses.replace(manifest, decoder=decoder)
        with ArticleDetector(first) as detector:
            print(f"{manifest.name}: tuning on {split}", file=sys.stderr)
            found = evaluate_detector(detector, images, pose_estimator=pose, min_precision=min_precision)
        decoder["class_score_thresholds"] = found["best_f1_thresholds"]
        decoder["thresholds_tuned_on"] = thresholds_tuned_on(split, min_precision)
        with ArticleDetector(dataclasses.replace(manifest, decoder=decoder)) as detector:
            print(f"{manifest.name}: measuring with the tuned thresholds", file=sys.stderr)
            result = evaluate_detector(detector, images, pose_estimator=pose)
    finally:
        if own_pose:
            pose.close()
    metrics = dict(manifest.metrics)
    metrics["ccp_val_pose_crop"] = {k: result[k] for k in KEPT_FIGURES} | {
        "contradictions": result["contradictions"],
        "shown_operating_points": result["shown_operating_points"],
    }
    metrics["map50"] = result["map50"]
    write_manifest(dataclasses.replace(manifest, decoder=decoder, metrics=metrics))
    return result


def add_tune_thresholds_parser(commands: argparse._SubParsersAction) -> None:
    """Register ``tune-thresholds`` on the ``edge-bml-convert`` subparsers."""
    parser = commands.add_parser(
        "tune-thresholds",
        help="tune detector variants' shown thresholds on CCP val, after exclusive-category resolution",
        description=__doc__,
    )
    parser.add_argument("variants", nargs="+", type=Path, help="detector variant folders")
    parser.add_argument("--data", type=Path, required=True, help="the shared data folder (holds ccp/)")
    parser.add_argument("--split", default="val", help="the split to tune on (default: val)")
    parser.add_argument(
        "--min-precision",
        type=share,
        default=SHOWN_MIN_PRECISION,
        help=f"share of shown boxes that must be right at a chosen threshold (default {SHOWN_MIN_PRECISION})",
    )
    parser.set_defaults(func=run_tune_thresholds)


def run_tune_thresholds(args: argparse.Namespace) -> int:
    from edge_bml.stages.pose import PoseEstimator

    with PoseEstimator.create_from_options() as pose:
        for variant in args.variants:
            result = tune_detector_thresholds(
                variant, args.data, split=args.split, pose=pose, min_precision=args.min_precision
            )
            pairs = result["contradictions"]
            print(
                f"{variant.name}: mAP@0.5 {result['map50']:.4f}, mAP@[.5:.95] {result['map50_95']:.4f}, "
                f"contradictory shown pairs {pairs['pairs']} in {pairs['photos']} photos"
            )
    return 0
