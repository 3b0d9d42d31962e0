"""``edge-bml-convert check-pose``: the whole INT8 pose stage (both INT8 models) against the FP32 one.

Each INT8 pose model is validated with its FP32 twin in the pipeline; this check runs both INT8
models together, as the runtime does with ``--precision int8``, on the held-apart photos, and
records the figures as ``metrics.pose_pipeline`` in both INT8 manifests (model files untouched)
and in their REPORT.md. Where the stage misses its targets (landmarks within 3% of torso length of
FP32 on average, ``shot`` the same on at least 98% of photos), both models' validation fails too.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from converters.quantize.calibration import ccp_val_images, list_images
from converters.quantize.report_markdown import REPORT_NAME, write_report
from converters.quantize.validator import ValidationError, pose_figures, pose_stage
from edge_bml.manifest import ModelManifest, write_manifest
from edge_bml.model_registry import list_manifests, models_dir


def _variant(root: Path, task: str, fmt: str, precision: str) -> ModelManifest:
    found = [m for m in list_manifests(root) if (m.task, m.format, m.precision) == (task, fmt, precision)]
    if not found:
        raise ValidationError(f"no {precision} {fmt} {task} model under {root}")
    return found[0]


def check_pose(
    root: Path, fmt: str, photos: list[Path], *, max_landmark_error: float = 0.03, min_shot_same: float = 0.98
) -> dict:
    """Compare the INT8 and FP32 pose stages of format ``fmt``; record and return the figures.

    Raises:
        ValidationError: a model of the four is missing.
    """
    from edge_bml.stages.pose import PoseOptions

    models = {
        (task, precision): _variant(root, task, fmt, precision)
        for task in ("pose_detection", "pose_landmarks")
        for precision in ("fp32", "int8")
    }

    def stage(precision: str):
        return pose_stage(models["pose_detection", precision], models["pose_landmarks", precision])

    with stage("fp32") as fp32, stage("int8") as int8:
        figures = pose_figures(fp32, int8, photos)
    error = figures["landmark_error_mean_torso"]
    figures.update(
        mirror_average=PoseOptions().mirror_average,
        detector=models["pose_detection", "int8"].name,
        landmarks=models["pose_landmarks", "int8"].name,
        passed=error is not None and error <= max_landmark_error and figures["shot_same_fraction"] >= min_shot_same,
        thresholds={"max_landmark_error": max_landmark_error, "min_shot_same": min_shot_same},
    )
    for task in ("pose_detection", "pose_landmarks"):
        manifest = models[task, "int8"]
        validation = _with_pipeline_verdict(manifest.metrics.get("validation", {}), figures)
        metrics = {**manifest.metrics, "pose_pipeline": figures, "validation": validation}
        manifest = dataclasses.replace(manifest, metrics=metrics)
        write_manifest(manifest)
        write_report(manifest, manifest.directory / REPORT_NAME)
    return figures


PIPELINE_FAILURE = "whole INT8 pose stage"


def _with_pipeline_verdict(validation: dict, figures: dict) -> dict:
    """The model's validation with the pipeline's verdict: a failed pipeline fails both models (so the
    runtime's ``auto`` skips them); a passed one clears an earlier pipeline failure."""
    failures = [f for f in validation.get("failures", []) if not f.startswith(PIPELINE_FAILURE)]
    if not figures["passed"]:
        error = figures["landmark_error_mean_torso"]
        failures.append(
            f"{PIPELINE_FAILURE} on {figures['photos']} photos: landmarks "
            f"{'not compared' if error is None else f'{error:.2%}'} of torso from FP32 (max "
            f"{figures['thresholds']['max_landmark_error']:.0%}), shot same on {figures['shot_same_fraction']:.1%} "
            f"(min {figures['thresholds']['min_shot_same']:.0%})"
        )
    return {**validation, "failures": failures, "passed": not failures}


def add_check_pose_parser(commands) -> None:
    """Register ``check-pose`` on the ``edge-bml-convert`` subparsers."""
    parser = commands.add_parser("check-pose", help="whole INT8 pose stage against FP32 on held-apart photos")
    parser.add_argument("--format", required=True, choices=["onnx", "openvino", "tflite"], help="the variants' format")
    parser.add_argument("--models", type=Path, help="models folder (default: quantized_models/)")
    parser.add_argument("--val-dir", type=Path, help="held-apart photos (default: the CCP val photos)")
    parser.add_argument("--val-count", type=int, help="use this many photos (default: all)")
    parser.add_argument("--max-landmark-error", type=float, default=0.03, help="share of torso length")
    parser.add_argument("--min-shot-same", type=float, default=0.98, help="share of unchanged shots")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    photos = list_images(args.val_dir, count=args.val_count) if args.val_dir else ccp_val_images(count=args.val_count)
    figures = check_pose(
        args.models or models_dir(),
        args.format,
        photos,
        max_landmark_error=args.max_landmark_error,
        min_shot_same=args.min_shot_same,
    )
    print(figures)
    return 0 if figures["passed"] else 1
