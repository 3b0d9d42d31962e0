"""Every numeric option has bounds, every output path is checked before the work, and a broken model
manifest is a typed error (or, for a variant nobody asked for, a skipped one) (#26 item 14)."""

from __future__ import annotations

import json
import shutil
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from edge_bml.catalog.search import Catalog
from edge_bml.cli.main import build_parser, main
from edge_bml.drawing import write_png
from edge_bml.errors import BackendUnavailableError, CatalogError, ManifestError, OutputFileError
from edge_bml.manifest import load_manifest
from edge_bml.model_registry import list_manifests, models_dir
from edge_bml.runtime_choice import RuntimeChoice
from tests.tiny_catalog import tiny_catalog

PHOTO = "photo.jpg"


def _usage_error(argv: list[str], capsys) -> str:
    with pytest.raises(SystemExit) as stopped:
        build_parser().parse_args(argv)
    assert stopped.value.code == 2
    return capsys.readouterr().err.strip().splitlines()[-1]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["look", PHOTO, "--threads", "10000"], "must be 1 to 256, got 10000"),
        (["look", PHOTO, "--stage", "detector=onnxruntime:int8:99999"], "threads must be a whole number from 1 to 256"),
        (["search", PHOTO, "--catalog", "c", "--threads", "257"], "must be 1 to 256, got 257"),
        (["catalog", "build", "--images", "i", "--items", "t", "--out", "o", "--threads", "0"], "must be 1 to 256"),
        (["search", PHOTO, "--catalog", "c", "--top-k", "1000000000"], "must be 1 to 1000, got 1000000000"),
        (["look", PHOTO, "--top-k", "1001"], "must be 1 to 1000, got 1001"),
        (["search", PHOTO, "--catalog", "c", "--top-k", "1e20"], "expected a whole number, got '1e20'"),
        (["look", PHOTO, "--html", "/proc/version"], "cannot write in /proc"),
        (["look", PHOTO, "--draw", "/dev/full"], "/dev/full is not a regular file"),
        (["look", PHOTO, "--draw", "/proc/x.png"], "cannot write in /proc"),
        (["serve", "--workers", "100000"], "must be 1 to 64, got 100000"),
        (["serve", "--queue", "-1"], "must be 0 to 1000, got -1"),
        (["serve", "--port", "70000"], "a TCP port is 1 to 65535, got 70000"),
        (["serve", "--max-upload-mb", "inf"], "must be a number >= 0, got inf"),
        (["serve", "--per-client", "0"], "must be at least 1, got 0"),
        (
            ["catalog", "build", "--images", "i", "--items", "t", "--out", "o", "--batch", "10000000"],
            "must be 1 to 1024",
        ),
        (["bench", "--seconds", "nan"], "must be a number >= 0, got nan"),
        (["bench", "--seconds", "1e9"], "must be at most 600 seconds, got 1e9"),
        (["demo", "--count", "-3"], "must be at least 1, got -3"),
        (["evaluate", "look", "--data", "d", "--limit", "-1"], "must be at least 1, got -1"),
    ],
)
def test_out_of_range_options_are_usage_errors(argv, message, capsys):
    assert message in _usage_error(argv, capsys)


def test_the_library_refuses_a_thread_count_no_runtime_survives():
    with pytest.raises(BackendUnavailableError, match="threads must be 1 to 256, got 10000"):
        RuntimeChoice(threads=10_000)


def test_a_huge_top_k_returns_the_catalog_without_allocating_for_k(tmp_path):
    with Catalog(tiny_catalog(tmp_path / "cat"), trust=True) as catalog:
        tracemalloc.start()
        try:
            matches = catalog.search(np.ones(16, np.float32), k=10_000_000)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert len(matches.items) == 12
    assert peak < 1_000_000  # before: arrays of k slots (120 MB at this k, 12 GB at 10**9)


def test_a_catalog_out_where_no_file_can_be_made_is_one_line(tmp_path, capsys):
    items = tmp_path / "items.csv"
    items.write_text("id,file,category\n")
    argv = ["catalog", "build", "--images", str(tmp_path), "--items", str(items), "--out", "/proc/x"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("edge-bml: error: cannot write a catalog at /proc/x") and "\n" not in err


def test_an_unreadable_catalog_manifest_is_one_line(tmp_path, monkeypatch, capsys):
    # Tests run as root, whom file modes do not stop: the read is made to fail as it would for a user.
    catalog = tiny_catalog(tmp_path / "cat")
    read_text = Path.read_text

    def refused(self, *args, **kwargs):
        if self.name == "catalog.json":
            raise PermissionError(13, "Permission denied", str(self))
        return read_text(self, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", refused)
    with pytest.raises(CatalogError, match=r"catalog.json: cannot be read \(Permission denied\)"):
        Catalog(catalog)
    assert main(["search", str(tmp_path / "p.jpg"), "--catalog", str(catalog)]) == 2
    assert "cannot be read (Permission denied)" in capsys.readouterr().err


def test_an_unreadable_shard_is_a_catalog_error(tmp_path, monkeypatch):
    catalog = tiny_catalog(tmp_path / "cat")
    import edge_bml.catalog.catalog_manifest as catalog_manifest

    def refused(path):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(catalog_manifest, "sha256_file", refused)
    with pytest.raises(CatalogError, match=r"cannot read .* \(Permission denied\)"):
        Catalog(catalog, use_stamp=False)


def test_a_picture_that_cannot_be_written_is_an_output_file_error(tmp_path):
    with pytest.raises(OutputFileError, match="cannot write"):
        write_png(tmp_path / "gone" / "look.png", np.zeros((4, 4, 3), np.uint8))


# Manifests.


@pytest.fixture
def models(tmp_path):
    """A models folder with one real variant's manifest (its model file is not needed to list it)."""
    root = tmp_path / "models"
    source = models_dir() / "embedder_triplet_fp32_onnx"
    (root / source.name).mkdir(parents=True)
    shutil.copy(source / "manifest.json", root / source.name / "manifest.json")
    return root


def _variant(root: Path, name: str, change) -> Path:
    data = json.loads((root / "embedder_triplet_fp32_onnx" / "manifest.json").read_text())
    text = change(data)
    (root / name).mkdir()
    (root / name / "manifest.json").write_text(text if isinstance(text, str) else json.dumps(data))
    return root / name


def test_a_broken_variant_nobody_asked_for_is_skipped_with_one_warning(models, capsys):
    _variant(models, "zz_broken", lambda data: "{not json")
    found = list_manifests(models)
    assert [m.name for m in found] == ["embedder_triplet_fp32_onnx"]
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("edge-bml: warning: skipped the model variant zz_broken: ")
    list_manifests(models)
    assert capsys.readouterr().err == ""  # once per process


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: "[" * 100_000 + "]" * 100_000, "not valid JSON"),
        (lambda d: d["input"].update(width=0), "width and height must be 1 to 8192, got 0"),
        (lambda d: d["input"].update(height={"nested": [1, {"deeper": 2}]}), "bad input spec"),
        (lambda d: d.update(decoder=[1, 2]), "field 'decoder' must be a JSON object"),
        (lambda d: d.update(metrics={"validation": [True]}), "metrics.validation must be a JSON object"),
        (lambda d: d.update(labels={"a": "b"}), "'labels' must be a list of strings"),
        (lambda d: d["input"].update(mean=[1, 2]), "mean and std must hold 3 numbers"),
        (lambda d: d.update(model_file="../../x", sha256={"../../x": "0" * 64}), "plain name inside the variant"),
        (lambda d: d["sha256"].update({"/etc/passwd": "0" * 64}), "plain name inside the variant"),
    ],
)
def test_a_damaged_manifest_is_a_manifest_error(models, change, message):
    with pytest.raises(ManifestError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_manifest(_variant(models, "damaged", change))
