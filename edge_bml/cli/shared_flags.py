"""Flags several commands share, written once: which runtime, precision and threads run the models, and
whether a catalog's files are hashed at open."""

from __future__ import annotations

import argparse

from edge_bml.backends import BACKEND_NAMES
from edge_bml.cli.arg_types import thread_count

PRECISIONS = ("auto", "fp32", "int8")  # no fp16 variant ships: it is not offered


def add_runtime_flags(parser: argparse.ArgumentParser) -> None:
    """``--backend``, ``--precision``, ``--threads`` and ``--no-measure``, with the same meaning and help everywhere."""
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
    parser.add_argument(
        "--no-measure",
        action="store_true",
        help="auto picks by the shipped latencies instead of timing the variants on this CPU on first use "
        "(same as EDGE_BML_MEASURE=0)",
    )


def add_trust_flag(parser: argparse.ArgumentParser) -> None:
    """``--trust``: open the catalog without hashing its files, where they are known good and hashing a large
    catalog at each start (without a cached verification stamp) would take too long."""
    parser.add_argument(
        "--trust",
        action="store_true",
        help="skip the sha256 check of the catalog files at open; sizes are still checked",
    )


def add_where_flag(parser: argparse.ArgumentParser) -> None:
    """``--where COLUMN=V1[,V2]``: an attribute filter on the catalog's products, repeatable."""
    parser.add_argument(
        "--where",
        action="append",
        default=[],
        type=where_item,
        metavar="COLUMN=V1[,V2]",
        help="only products whose COLUMN (a column of the product table, e.g. kids or gender) is one of the "
        "values; repeatable: AND across columns, OR within one; COLUMN=* lifts the catalog's default filter",
    )


def where_item(text: str) -> str:
    """One ``--where`` item, checked for its form (the columns are checked against the catalog later).

    Raises:
        argparse.ArgumentTypeError: not ``COLUMN=VALUE[,VALUE...]``.
    """
    from edge_bml.catalog.attributes import parse_where
    from edge_bml.errors import CatalogFilterError

    try:
        parse_where([text])
    except CatalogFilterError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text
