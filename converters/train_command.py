"""``edge-bml-convert train <model>``: one shared ``train`` command; each trainer adds its model to it."""

from __future__ import annotations

import argparse

_ATTRIBUTE = "_edge_bml_train_models"


def train_subparsers(commands: argparse._SubParsersAction) -> argparse._SubParsersAction:
    """The ``train`` command's model subparsers, created on first use (call it from each trainer)."""
    train = commands.choices.get("train")
    if train is None:
        train = commands.add_parser("train", help="train a model (embedder, detector, ...)")
        setattr(train, _ATTRIBUTE, train.add_subparsers(dest="model", required=True))
    return getattr(train, _ATTRIBUTE)
