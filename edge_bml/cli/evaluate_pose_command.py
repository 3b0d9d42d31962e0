"""``edge-bml evaluate pose``: the pose stage's shot, facing and mirror figures on CCP (see README)."""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

from edge_bml.cli.arg_types import non_negative_int, positive_int
from edge_bml.cli.evaluate_command import annotations_path, evaluate_subparsers
from edge_bml.cli.shared_flags import add_runtime_flags


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = evaluate_subparsers(commands).add_parser(
        "pose", help="shot type, facing and mirrored-landmark agreement on CCP full shots"
    )
    parser.add_argument("--data", type=Path, required=True, help="the data folder (ccp/, clothing/) or ccp/")
    parser.add_argument("--split", default="val", help="CCP split (default val; 'all' for every image)")
    parser.add_argument(
        "--garments", type=non_negative_int, default=50, help="clothing photos checked for no_person (default 50)"
    )
    add_runtime_flags(parser)
    parser.add_argument("--no-mirror-average", action="store_true", help="one landmark pass per person")
    parser.add_argument("--limit", type=positive_int, default=None, help="only the first N photos")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from edge_bml.evaluation.pose_eval import evaluate_pose, pose_evaluation_photos
    from edge_bml.stages.pose import PoseEstimator, PoseOptions

    photos, garments = pose_evaluation_photos(
        annotations_path(args.data), split=args.split, limit=args.limit, garments=args.garments
    )
    options = PoseOptions(
        backend=args.backend, precision=args.precision, threads=args.threads, mirror_average=not args.no_mirror_average
    )
    with PoseEstimator.create_from_options(options) as estimator:
        report = dataclasses.asdict(evaluate_pose(estimator, photos, garments=garments))
        report["models"] = [estimator.detector.manifest.name, estimator.landmarker.manifest.name]
        report["mirror_average"] = options.mirror_average
    if args.json:
        print(json.dumps(report))
        return 0
    print(f"models: {' + '.join(report['models'])} (mirror average: {options.mirror_average})")
    print(f"CCP {args.split}: {report['photos']} photos; garments: {report['garments']}")
    rows = [
        ("full shots classified full_shot", report["full_shot"]),
        ("top 55% cut classified other than full_shot", report["cut_not_full_shot"]),
        ("front/back facing kept when mirrored", report["front_kept_when_mirrored"]),
        ("left/right facing swapped when mirrored", report["side_swapped_when_mirrored"]),
        ("visible landmarks within 5% torso when mirrored", report["mirrored_landmarks_within_5pct_torso"]),
        ("garment photos classified no_person", report["garments_no_person"]),
    ]
    for label, value in rows:
        print(f"  {label:<50} {'-' if value is None else f'{value:.1%}'}")
    print(f"  facing: {report['facing_counts']}")
    for stage, figures in report["latency_ms"].items():
        print(f"  {stage:<16} p50 {figures['p50']:>7.1f} ms   p95 {figures['p95']:>7.1f} ms")
    return 0
