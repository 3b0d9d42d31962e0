"""``edge-bml-convert train <model>``: one shared ``train`` command; each trainer adds its model to it.

The flags every trainer takes (``--seed``, ``--threads``, ``--resume``, ``--smoke``, ...) are defined once
here, so that their type and default cannot drift; a trainer words a flag's help its own way where it must.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from edge_bml.cli.nested_commands import nested_subparsers
from edge_bml.errors import EdgeBmlError

Config = TypeVar("Config")

FLAGS: dict[str, dict[str, Any]] = {
    "--data": {"type": Path, "required": True, "help": "the shared data folder (holds ccp/)"},
    "--out": {"type": Path, "required": True, "help": "variant folder to write (ONNX + manifest + log)"},
    "--input-size": {"help": "WxH, multiples of 32 (default %(default)s)"},
    "--batch": {"type": int, "default": 16, "help": "photos per step (default 16)"},
    "--seed": {"type": int, "default": 0, "help": "random seed (default 0)"},
    "--threads": {"type": int, "default": 1, "help": "torch threads (default 1: the machine is shared)"},
    "--max-minutes": {"type": float},
    "--resume": {"action": "store_true"},
    "--export-only": {"action": "store_true"},
    "--smoke": {"action": "store_true"},
}


def train_subparsers(commands: argparse._SubParsersAction) -> argparse._SubParsersAction:
    """The ``train`` command's model subparsers, created on first use (call it from each trainer)."""
    return nested_subparsers(commands, "train", help="train a model (embedder, detector, ...)", dest="model")


def add_flag(parser: argparse.ArgumentParser, flag: str, **overrides: Any) -> None:
    """Add one of the shared ``FLAGS``; ``overrides`` (a default, a help text) fit it to one trainer.

    Raises:
        KeyError: ``flag`` is not a shared flag.
    """
    parser.add_argument(flag, **{**FLAGS[flag], **overrides})


def parse_input_size(text: str, *, example: str, error: type[EdgeBmlError]) -> tuple[int, int]:
    """``--input-size`` WxH as (width, height).

    Raises:
        EdgeBmlError: (``error``) ``text`` is not two whole numbers joined by x.
    """
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise error(f"--input-size must be WxH, e.g. {example}, got {text!r}") from None
    return width, height


def invoked_command() -> list[str]:
    """The command line as typed, recorded in the manifest so that a variant can be made again."""
    return ["edge-bml-convert", *sys.argv[1:]]


def work_folder(work: str | Path | None, *, out: str | Path, root: Path) -> str:
    """``--work``, or by default ``root/NAME`` for an output folder ``.../NAME``: one work folder per variant."""
    return str(work) if work else str(root / Path(out).name)


def train_or_export(
    args: argparse.Namespace,
    config: Config,
    *,
    smoke_config: Callable[[Config], Config],
    export: Callable[[Config], Path],
    train: Callable[[Config], Path],
) -> int:
    """Apply ``--smoke`` (``smoke_config``), then ``--export-only``'s export or training; print the folder written.

    Raises:
        EdgeBmlError: whatever ``export`` or ``train`` raises (bad options, no data, no checkpoint).
    """
    if args.smoke:
        config = smoke_config(config)
    print(f"wrote {export(config) if args.export_only else train(config)}")
    return 0
