"""Argument types shared by the commands: a slip on the command line ends as a usage error, not a traceback."""

from __future__ import annotations

import argparse
from pathlib import Path


def positive_int(text: str) -> int:
    """An integer of at least 1 (``--threads``, ``--top-k``, counts).

    Raises:
        argparse.ArgumentTypeError: not an integer, or below 1.
    """
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def output_file(text: str) -> Path:
    """A file to write whose folder exists (``--draw``, ``--html``).

    Raises:
        argparse.ArgumentTypeError: the folder does not exist, or the path is a folder.
    """
    path = Path(text)
    folder = path.parent
    if not folder.is_dir():
        raise argparse.ArgumentTypeError(f"folder {folder} does not exist; create it first (mkdir -p {folder})")
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{path} is a folder; give a file name, e.g. {path / 'look.png'}")
    return path


def non_negative_float(text: str) -> float:
    """A finite number >= 0 (``--colour-weight``).

    Raises:
        argparse.ArgumentTypeError: not a number, negative or not finite.
    """
    import math

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a number >= 0, got {text}")
    return value


def share(text: str) -> float:
    """A number from 0 to 1 (``--min-precision``, ``--copy-paste``).

    Raises:
        argparse.ArgumentTypeError: not a number, or outside 0..1.
    """
    value = non_negative_float(text)
    if value > 1:
        raise argparse.ArgumentTypeError(f"must be a share from 0 to 1, got {text}")
    return value
