"""Argument parsing for ``edge-bml-convert quantize`` and ``check-pose``; the work is in ``driver``/``pose_check``."""

from __future__ import annotations

import argparse
from pathlib import Path

from converters.quantize.validator import Thresholds


def add_quantize_parser(commands) -> None:
    """Register ``quantize`` on the ``edge-bml-convert`` subparsers."""
    parser = commands.add_parser(
        "quantize",
        help="FP32 .onnx/.tflite -> validated INT8 variant (ONNX Runtime, OpenVINO or LiteRT)",
        description="Quantize an FP32 model variant to INT8, validate it against FP32 on held-apart photos "
        "(CCP val by default) and write it with its manifest and REPORT.md; nothing is written when a "
        "threshold fails unless --force.",
    )
    parser.add_argument(
        "source",
        type=Path,
        help="FP32 .onnx/.tflite (manifest.json beside it or --manifest), or a PyTorch checkpoint "
        "(.pt, --to tflite, with --manifest naming its FP32 ONNX variant)",
    )
    parser.add_argument(
        "--task",
        required=True,
        choices=["pose_detection", "pose_landmarks", "detector", "embedder", "parser"],
        help="what the model does (decides the calibration inputs and the validation)",
    )
    parser.add_argument(
        "--to", required=True, choices=["onnx", "openvino", "tflite"], dest="target", help="the INT8 format to write"
    )
    parser.add_argument("--calib", required=True, type=Path, help="folder of calibration photos (e.g. CCP tagged/)")
    parser.add_argument("--calib-count", type=int, default=128, help="photos taken, spread over the folder")
    parser.add_argument(
        "--keep-float",
        nargs="+",
        default=[],
        metavar="PATTERN",
        help="regular expressions on node names (OpenVINO/ONNX) or op output tensor names (TFLite) kept in float",
    )
    parser.add_argument(
        "--keep-float-max-size",
        type=int,
        metavar="N",
        help="keep float the layers whose output map is at most N x N (and the flat heads after them)",
    )
    parser.add_argument("--out", required=True, type=Path, help="the new variant's folder, e.g. quantized_models/NAME")
    parser.add_argument("--force", action="store_true", help="write the model even when validation fails")
    parser.add_argument("--manifest", type=Path, help="folder of the source's manifest (default: beside SOURCE)")
    parser.add_argument(
        "--val-dir",
        type=Path,
        help="held-apart photos (default: CCP val; for an embedder, the catalog items it never trained on)",
    )
    parser.add_argument("--val-count", type=int, help="use this many held-apart photos (default: all)")
    parser.add_argument("--latency-runs", type=int, default=30, help="timed runs per model and thread count")
    defaults = Thresholds()
    parser.add_argument(
        "--max-landmark-error", type=float, default=defaults.max_landmark_error, help="pose: mean landmark error"
    )
    parser.add_argument(
        "--max-shot-change", type=float, default=defaults.max_shot_change, help="pose: share of changed shots"
    )
    parser.add_argument("--max-map-drop", type=float, default=defaults.max_map_drop, help="detector: mAP@0.5 drop")
    parser.add_argument(
        "--min-topk-overlap", type=float, default=defaults.min_topk_overlap, help="embedder: top-10 overlap"
    )
    parser.add_argument("--max-miou-drop", type=float, default=defaults.max_miou_drop, help="parser: mIoU drop")
    parser.add_argument(
        "--min-pixel-agreement",
        type=float,
        default=defaults.min_pixel_agreement,
        help="parser: passes despite a larger mIoU drop when INT8 labels this share of the foreground as FP32",
    )
    parser.set_defaults(func=run_quantize)


def run_quantize(args: argparse.Namespace) -> int:
    from converters.quantize.calibration import list_images
    from converters.quantize.driver import QuantizeOptions, quantize
    from converters.quantize.output import KeepFloat

    val_photos = None
    if args.val_dir is not None:
        val_photos = tuple(list_images(args.val_dir, count=args.val_count))
    options = QuantizeOptions(
        calib_count=args.calib_count,
        keep_float=KeepFloat(patterns=tuple(args.keep_float), max_size=args.keep_float_max_size),
        force=args.force,
        thresholds=Thresholds(
            max_landmark_error=args.max_landmark_error,
            max_shot_change=args.max_shot_change,
            max_map_drop=args.max_map_drop,
            min_topk_overlap=args.min_topk_overlap,
            max_miou_drop=args.max_miou_drop,
            min_pixel_agreement=args.min_pixel_agreement,
        ),
        val_photos=val_photos,
        val_count=args.val_count,
        latency_runs=args.latency_runs,
        source_manifest=args.manifest,
    )
    result = quantize(
        args.source, task=args.task, target=args.target, calib_dir=args.calib, out=args.out, options=options
    )
    validation = result.validation
    state = "passed" if validation["passed"] else "FAILED (written because of --force)"
    print(f"wrote {result.out} (validation {state})")
    for failure in validation["failures"]:
        print(f"  failed: {failure}")
    print(f"  task figures: {validation['task']}")
    print(f"  latency ms: {validation['latency_ms']}")
    if result.fp32_updated:
        print(f"recorded FP32 latencies in {result.fp32_updated}")
    return 0


def add_remeasure_parser(commands) -> None:
    """Register ``remeasure`` on the ``edge-bml-convert`` subparsers."""
    parser = commands.add_parser(
        "remeasure",
        help="measure INT8 variants and their FP32 references again (latency only), e.g. on a quiet machine",
    )
    parser.add_argument("variants", type=Path, nargs="+", help="INT8 variant folders")
    parser.add_argument("--latency-runs", type=int, default=30, help="timed runs per thread count (default 30)")
    parser.set_defaults(func=run_remeasure)


def run_remeasure(args: argparse.Namespace) -> int:
    from converters.quantize.driver import remeasure_latency

    for variant in args.variants:
        print(f"{variant.name}: {remeasure_latency(variant, runs=args.latency_runs)}")
    return 0
