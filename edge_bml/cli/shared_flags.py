"""Flags several commands share, written once: which runtime, precision and threads run the models, and
whether a catalog's files are hashed at open."""

from __future__ import annotations

import argparse

from edge_bml.backends import BACKEND_NAMES
from edge_bml.cli.arg_types import thread_count

PRECISIONS = ("auto", "fp32", "fp16", "int8")


def add_runtime_flags(parser: argparse.ArgumentParser) -> None:
    """``--backend``, ``--precision`` and ``--threads``, with the same meaning and help everywhere."""
    parser.add_argument(
        "--backend",
        default="auto",
        choices=("auto",) + BACKEND_NAMES,
        help="runtime for the models: litert (.tflite), onnxruntime (.onnx), openvino (.xml); "
        "auto: the fastest validated variant on this machine (default)",
    )
    parser.add_argument(
        "--precision",
        default="auto",
        choices=PRECISIONS,
        help="model variant precision; auto: the fastest validated (default)",
    )
    parser.add_argument(
        "--threads", type=thread_count, default=None, help="inference threads per model (default: the runtime's)"
    )


def add_trust_flag(parser: argparse.ArgumentParser) -> None:
    """``--trust``: open the catalog without hashing its files, where they are known good and hashing a large
    catalog at each start (without a cached verification stamp) would take too long."""
    parser.add_argument(
        "--trust",
        action="store_true",
        help="skip the sha256 check of the catalog files at open; sizes are still checked",
    )
