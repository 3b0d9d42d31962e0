"""``edge-bml-convert import yolo`` on a YOLO-layout ONNX built here, then the runtime stage on it."""

from __future__ import annotations

import json

import numpy as np
import pytest

from converters.cli import main as convert_main
from edge_bml.manifest import load_manifest
from edge_bml.stages.detector import ArticleDetector
from edge_bml.stages.detector_crop import CROP_GRID_PX, person_crop_box
from tests.yolo_onnx_factory import constant_yolo_onnx, yolo_table

WIDTH, HEIGHT = 64, 128


@pytest.fixture()
def yolo_onnx(tmp_path):
    table = yolo_table([[8, 16, 40, 64], [10, 100, 30, 120]], [[0.9, 0.0], [0.0, 0.1]])
    return constant_yolo_onnx(tmp_path / "street_yolo.onnx", table, width=WIDTH, height=HEIGHT)


def test_import_writes_a_manifest_the_detector_stage_runs(yolo_onnx, tmp_path):
    out = tmp_path / "models" / "street_yolo_onnx"
    code = convert_main(
        ["import", "yolo", str(yolo_onnx), "--labels", "top,shoe", "--input-size", "64x128", "--out", str(out)]
    )
    assert code == 0
    manifest = load_manifest(out)
    manifest.verify()
    assert (manifest.task, manifest.format, manifest.precision) == ("detector", "onnx", "fp32")
    assert manifest.labels == ("top", "shoe") and (manifest.input.width, manifest.input.height) == (WIDTH, HEIGHT)
    assert json.loads((out / "manifest.json").read_text())["outputs"] == {"predictions": "output0"}

    photo = np.zeros((600, 400, 3), np.uint8)
    person = (100, 50, 260, 550)
    with ArticleDetector(manifest) as detector:
        found = detector(photo, person)
    crop = person_crop_box(person, aspect=WIDTH / HEIGHT, margin=0.08).snapped(CROP_GRID_PX, aspect=WIDTH / HEIGHT)
    scale = crop.width / WIDTH
    assert crop.height / HEIGHT == pytest.approx(scale)
    # Only the top passes the 0.25 threshold; its box comes back in photo pixels.
    assert found.names == ["top"]
    expected = np.array([crop.x0 + 8 * scale, crop.y0 + 16 * scale, crop.x0 + 40 * scale, crop.y0 + 64 * scale])
    np.testing.assert_allclose(found.xyxy[0], expected, atol=1e-2)


def test_import_refuses_labels_that_do_not_fit_the_output(yolo_onnx, tmp_path, capsys):
    code = convert_main(
        ["import", "yolo", str(yolo_onnx), "--labels", "a,b,c", "--input-size", "64x128", "--out", str(tmp_path / "x")]
    )
    assert code == 2
    assert "[1, 4 + 3, N]" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_import_refuses_another_input_size_and_a_broken_file(yolo_onnx, tmp_path, capsys):
    assert convert_main(["import", "yolo", str(yolo_onnx), "--labels", "a,b", "--input-size", "640x640"]) == 2
    assert "does not match" in capsys.readouterr().err
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not a model")
    out = tmp_path / "y"
    assert (
        convert_main(["import", "yolo", str(broken), "--labels", "a,b", "--input-size", "64x128", "--out", str(out)])
        == 2
    )
    assert "not a readable ONNX" in capsys.readouterr().err
