"""Every option of both command lines says what it does, and the catalog commands take --catalog."""

from __future__ import annotations

import argparse

import pytest

from converters.cli import build_parser as convert_parser
from edge_bml.cli.main import build_parser, main


def _undocumented(parser: argparse.ArgumentParser, path: list[str]):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _undocumented(sub, path + [name])
        elif not isinstance(action, argparse._HelpAction) and not action.help:
            yield " ".join(path) + " " + (action.option_strings[0] if action.option_strings else action.dest)


@pytest.mark.parametrize("name, parser", [("edge-bml", build_parser), ("edge-bml-convert", convert_parser)])
def test_every_option_has_a_help_line(name, parser):
    assert list(_undocumented(parser(), [name])) == []


def test_catalog_info_takes_catalog_like_every_command(tmp_path, capsys):
    missing = tmp_path / "none"
    for argv in (["catalog", "info", "--catalog", str(missing)], ["catalog", "info", str(missing)]):
        assert main(argv) == 2
        assert f"{missing} is not a catalog" in capsys.readouterr().err
    assert main(["catalog", "info", "--catalog", "a", "b"]) == 2
    assert "two catalogs given" in capsys.readouterr().err
    assert main(["catalog", "info"]) == 2
    assert "add --catalog DIR" in capsys.readouterr().err


def test_top_k_and_port_are_checked_before_any_model_loads(capsys):
    for argv, message in (
        (["look", "x.jpg", "--top-k", "0"], "must be 1 to 1000, got 0"),
        (["serve", "--port", "-1"], "must be at least 1"),
        (["search", "x.jpg", "--catalog", "c", "--top-k", "0"], "must be 1 to 1000, got 0"),
    ):
        with pytest.raises(SystemExit) as stop:
            build_parser().parse_args(argv)
        assert stop.value.code == 2
        assert message in capsys.readouterr().err


def test_a_backend_without_pose_models_suggests_a_stage_override(capsys):
    assert main(["pose", "missing.jpg", "--backend", "onnxruntime"]) == 2
    assert "--stage pose=" in capsys.readouterr().err
