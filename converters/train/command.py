"""``edge-bml-convert train <model>``: one shared ``train`` command; each trainer adds its model to it."""

from __future__ import annotations

import argparse

from edge_bml.cli.nested_commands import nested_subparsers


def train_subparsers(commands: argparse._SubParsersAction) -> argparse._SubParsersAction:
    """The ``train`` command's model subparsers, created on first use (call it from each trainer)."""
    return nested_subparsers(commands, "train", help="train a model (embedder, detector, ...)", dest="model")
