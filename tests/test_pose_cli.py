"""`edge-bml pose` as a user runs it: table, JSON, drawing, bad files among good ones."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import pytest

from edge_bml.cli.main import main


@pytest.fixture(scope="module")
def photos(ccp_val):
    return [str(ccp_val[0]["path"]), str(ccp_val[1]["path"])]


def test_json_has_one_object_per_photo_with_every_field(photos, capsys):
    assert main(["pose", "--json", "--threads", "1", *photos]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2
    for line, photo in zip(lines, photos):
        record = json.loads(line)
        assert record["file"] == photo
        assert record["shot"] == "full_shot"
        assert record["facing"] in ("front", "back", "left", "right")
        assert record["reasons"]
        assert len(record["keypoints"]) == 33 and all(len(k) == 3 for k in record["keypoints"])
        x0, y0, x1, y1 = record["person_box"]
        assert 0 <= x0 < x1 and 0 <= y0 < y1
        timings = record["timings_ms"]
        assert list(timings) == ["decode", "pose_detect", "pose_landmarks", "pose_classify", "total"]
        assert all(v > 0 for v in timings.values())
        assert timings["total"] >= timings["pose_detect"] + timings["pose_landmarks"]


@pytest.mark.parametrize("backend", ["litert", "openvino"])
@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_table_names_the_models_and_backend_choice_is_honoured(photos, backend, precision, capsys):
    assert main(["pose", "--backend", backend, "--precision", precision, photos[0]]) == 0
    out = capsys.readouterr().out
    expected = "tflite" if backend == "litert" else "openvino"
    assert f"blazepose_detection_{precision}_{expected}" in out
    assert f"blazepose_landmarks_full_{precision}_{expected}" in out
    assert "full_shot" in out


def test_bad_files_are_reported_and_the_others_still_run(photos, tmp_path, capsys):
    text = tmp_path / "notes.jpg"
    text.write_text("not an image")
    truncated = tmp_path / "cut.jpg"
    data = open(photos[0], "rb").read()
    truncated.write_bytes(data[: len(data) // 3])
    code = main(["pose", "--json", str(text), photos[0], str(truncated), str(tmp_path / "missing.png")])
    captured = capsys.readouterr()
    assert code == 1
    assert [json.loads(line)["file"] for line in captured.out.strip().splitlines()] == [photos[0]]
    assert "not a JPEG, PNG, WebP or BMP" in captured.err
    assert "truncated" in captured.err
    assert "cannot read" in captured.err


def test_draw_writes_a_picture_per_photo(photos, tmp_path):
    assert main(["pose", "--draw", str(tmp_path / "skeleton.png"), *photos]) == 0
    drawn = sorted(tmp_path.glob("skeleton_*.png"))
    assert len(drawn) == 2
    image = cv2.imread(str(drawn[0]))
    original = cv2.imread(photos[0])
    assert image.shape == original.shape
    assert (image != original).any()


def test_no_person_photo(data_dir, capsys):
    first_item = (data_dir / "clothing" / "items.csv").read_text().splitlines()[1].split(",")
    garment = data_dir / "clothing" / first_item[1]
    assert main(["pose", "--json", str(garment)]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["shot"] == "no_person"
    assert record["keypoints"] is None and record["facing"] is None and record["person_box"] is None
    assert record["reasons"] == ["no person was found in the photo"]


def test_console_script_is_installed(photos):
    exe = shutil.which("edge-bml", path=str(Path(sys.executable).parent)) or shutil.which("edge-bml")
    if exe is None:
        pytest.skip("edge-bml console script not on PATH (package not installed)")
    done = subprocess.run([exe, "pose", "--json", photos[0]], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["shot"] == "full_shot"
