"""Argument parsing of ``edge-bml-convert import yolo``; the work is in ``yolo``."""

from __future__ import annotations

import argparse
from pathlib import Path

from edge_bml.cli.nested_commands import nested_subparsers


def import_subparsers(commands: argparse._SubParsersAction) -> argparse._SubParsersAction:
    """The ``import`` command's format subparsers, created on first use."""
    return nested_subparsers(
        commands, "import", help="plug an outside model into edge_bml (writes its manifest)", dest="format"
    )


def add_import_yolo_parser(commands: argparse._SubParsersAction) -> None:
    parser = import_subparsers(commands).add_parser(
        "yolo", help="an Ultralytics YOLOv8/YOLO11 detector exported to ONNX ([1, 4 + classes, N] output)"
    )
    parser.add_argument("model", type=Path, metavar="MODEL.onnx", help="an Ultralytics YOLOv8/11 detection export")
    parser.add_argument("--labels", required=True, help="class names in the model's order, comma-separated")
    parser.add_argument("--input-size", required=True, help="WxH the model was exported at, e.g. 640x640")
    parser.add_argument("--out", type=Path, help="variant folder (default: quantized_models/<model name>_onnx)")
    parser.add_argument("--score-threshold", type=float, default=0.25, help="shown score per class (default 0.25)")
    parser.add_argument("--iou-threshold", type=float, default=0.5, help="per-class NMS IoU (default 0.5)")
    parser.set_defaults(func=run_import_yolo)


def run_import_yolo(args: argparse.Namespace) -> int:
    from converters.importers.yolo import YoloImportError, import_yolo
    from edge_bml.model_registry import models_dir

    try:
        width, height = (int(v) for v in args.input_size.lower().split("x"))
    except ValueError:
        raise YoloImportError(f"--input-size must be WxH, e.g. 640x640, got {args.input_size!r}") from None
    out = args.out or models_dir() / f"{args.model.stem}_onnx"
    written = import_yolo(
        args.model,
        out,
        labels=args.labels.split(","),
        width=width,
        height=height,
        score_threshold=args.score_threshold,
        iou_threshold=args.iou_threshold,
    )
    print(f"wrote {written}")
    return 0
