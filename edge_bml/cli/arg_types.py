"""Argument types shared by the commands: a slip on the command line ends as a usage error, not a traceback."""

from __future__ import annotations

import argparse
import os
import stat
import tempfile
from pathlib import Path

from edge_bml.runtime_choice import MAX_THREADS

# Matches one command may ask for (``--top-k``): a page of results, not the whole catalog.
MAX_TOP_K = 1000
# Server workers (one pipeline each, about 80 MB), requests waiting beyond them, crops per batch, and a
# benchmark's seconds per variant: past these a value is a slip, not a plan.
MAX_WORKERS = 64
MAX_QUEUE = 1000
MAX_BATCH = 1024
MAX_BENCH_SECONDS = 600.0


def positive_int(text: str) -> int:
    """An integer of at least 1 (``--threads``, ``--top-k``, counts).

    Raises:
        argparse.ArgumentTypeError: not an integer, or below 1.
    """
    value = _whole_number(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def bounded_int(text: str, low: int, high: int, *, what: str = "") -> int:
    """A whole number from ``low`` to ``high``.

    Raises:
        argparse.ArgumentTypeError: not a whole number, or outside the range.
    """
    value = _whole_number(text)
    if not low <= value <= high:
        raise argparse.ArgumentTypeError(f"must be {low} to {high}{what}, got {value}")
    return value


def thread_count(text: str) -> int:
    """Inference threads per model, 1 to ``MAX_THREADS`` (``--threads``).

    Raises:
        argparse.ArgumentTypeError: not a whole number in that range.
    """
    return bounded_int(text, 1, MAX_THREADS)


def top_k(text: str) -> int:
    """Matches to return, 1 to ``MAX_TOP_K`` (``--top-k``).

    Raises:
        argparse.ArgumentTypeError: not a whole number in that range.
    """
    return bounded_int(text, 1, MAX_TOP_K)


def int_in(low: int, high: int):
    """An argument type: a whole number from ``low`` to ``high`` (``--workers``, ``--queue``, ``--batch``)."""

    def parse(text: str) -> int:
        return bounded_int(text, low, high)

    parse.__name__ = f"whole number {low}..{high}"
    return parse


def bench_seconds(text: str) -> float:
    """A time budget above 0 and at most ``MAX_BENCH_SECONDS`` (``bench --seconds``).

    Raises:
        argparse.ArgumentTypeError: not a finite number in that range.
    """
    value = positive_float(text)
    if value > MAX_BENCH_SECONDS:
        raise argparse.ArgumentTypeError(f"must be at most {MAX_BENCH_SECONDS:g} seconds, got {text}")
    return value


def _whole_number(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None


def output_file(text: str) -> Path:
    """A file to write whose folder exists and takes new files (``--draw``, ``--html``).

    Raises:
        argparse.ArgumentTypeError: the folder does not exist or cannot be written, or the path is a folder or
            an existing file that is not a regular file (``/dev/full``).
    """
    path = Path(text)
    folder = path.parent
    if not folder.is_dir():
        raise argparse.ArgumentTypeError(f"folder {folder} does not exist; create it first (mkdir -p {folder})")
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{path} is a folder; give a file name, e.g. {path / 'look.png'}")
    if os.path.lexists(path) and not stat.S_ISREG(os.stat(path, follow_symlinks=False).st_mode):
        raise argparse.ArgumentTypeError(
            f"{path} is not a regular file (a device, link, FIFO or socket); name a new file"
        )
    try:  # the file is written aside and renamed: the folder must take a new file (not so /proc, /sys)
        with tempfile.NamedTemporaryFile(prefix=f".{path.name}.", suffix=".probe", dir=folder):
            pass
    except OSError as error:
        raise argparse.ArgumentTypeError(f"cannot write in {folder} ({error.strerror or error})") from None
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
