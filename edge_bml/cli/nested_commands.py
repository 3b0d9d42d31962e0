"""Two-level commands (``evaluate look``, ``train embedder``, ``import yolo``) that several modules extend."""

from __future__ import annotations

import argparse

_ATTRIBUTE = "_edge_bml_nested_subparsers"


def nested_subparsers(
    commands: argparse._SubParsersAction, name: str, *, help: str, dest: str
) -> argparse._SubParsersAction:
    """The subparsers of command ``name``, created on first use, so each module can add its own entry."""
    parser = commands.choices.get(name)
    if parser is None:
        parser = commands.add_parser(name, help=help)
        setattr(parser, _ATTRIBUTE, parser.add_subparsers(dest=dest, required=True))
    return getattr(parser, _ATTRIBUTE)
