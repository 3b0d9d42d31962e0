"""Command-line slips an integrator met (#28): nothing offered that fails, nothing silently overridden."""

from __future__ import annotations

import argparse

import pytest

from edge_bml.cli.look_command import parse_stage
from edge_bml.cli.main import main
from edge_bml.runtime_choice import RuntimeChoice


def test_fp16_is_not_offered(capsys):
    with pytest.raises(SystemExit) as usage:
        main(["look", "photo.jpg", "--precision", "fp16"])
    assert usage.value.code == 2
    assert (
        "argument --precision: invalid choice: 'fp16' (choose from 'auto', 'fp32', 'int8')" in capsys.readouterr().err
    )


def test_the_embedder_stage_takes_threads_only():
    assert parse_stage("embedder=::1") == ("embedder", RuntimeChoice(None, None, 1))
    with pytest.raises(argparse.ArgumentTypeError, match="only its threads can be set, e.g. --stage embedder=::1"):
        parse_stage("embedder=litert:int8")
