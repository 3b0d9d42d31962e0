"""Argument types shared by the commands: a slip on the command line ends as a usage error, not a traceback."""

from __future__ import annotations

import argparse
from pathlib import Path


def positive_int(text: str) -> int:
    """An integer of at least 1 (``--threads``, ``--top-k``, counts).

    Raises:
        argparse.ArgumentTypeError: not an integer, or below 1.
    """
    value = _whole_number(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _whole_number(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None


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


def positive_float(text: str) -> float:
    """A finite number > 0 (``--job-timeout``, ``--body-timeout``, ``--max-upload-mb``).

    Raises:
        argparse.ArgumentTypeError: not a number, not finite, or not above 0.
    """
    value = non_negative_float(text)
    if value == 0:
        raise argparse.ArgumentTypeError(f"must be a number above 0, got {text}")
    return value


def non_negative_int(text: str) -> int:
    """A whole number >= 0 (``--queue``).

    Raises:
        argparse.ArgumentTypeError: not a whole number, or negative.
    """
    value = _whole_number(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def port_number(text: str) -> int:
    """A TCP port, 1 to 65535 (``--port``).

    Raises:
        argparse.ArgumentTypeError: not a whole number in that range.
    """
    value = positive_int(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"a TCP port is 1 to 65535, got {value}")
    return value
