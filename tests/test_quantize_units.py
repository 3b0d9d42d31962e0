"""The converters' small pieces: agreement measures, thresholds, selection of photos and float layers."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from converters.quantize.calibration import (
    CalibrationError,
    calibration_tensors,
    embedder_holdout_images,
    list_images,
    spread,
)
from converters.quantize.output import KeepFloat
from converters.quantize.report_markdown import speed_note
from converters.quantize.validator import Thresholds, centred_cosine, detector_failures, pose_failures
from edge_bml.manifest import load_manifest


def test_centred_cosine_ignores_offsets_and_sees_sign():
    rng = np.random.default_rng(0)
    a = rng.normal(size=100)
    assert centred_cosine(a, a + 5.0) == pytest.approx(1.0)
    assert centred_cosine(a, -a) == pytest.approx(-1.0)
    assert abs(centred_cosine(a, rng.normal(size=100))) < 0.3
    assert centred_cosine(np.ones(4), np.ones(4)) == 1.0
    assert centred_cosine(np.ones(4), np.zeros(4)) == 0.0


def _figures(error, shot_same):
    return {"landmark_error_mean_torso": error, "shot_same_fraction": shot_same}


def test_pose_failures_name_each_broken_threshold():
    limits = Thresholds(max_landmark_error=0.02, max_shot_change=0.02)
    assert pose_failures(_figures(0.015, 0.99), limits) == []
    (message,) = pose_failures(_figures(0.025, 1.0), limits)
    assert "2.50% of torso length" in message
    collapsed = pose_failures(_figures(None, 0.0), limits)
    assert "finds nobody" in collapsed[0] and "100.0% of photos" in collapsed[1]


def test_detector_failures_name_the_map_drop():
    figures = {"map50_fp32": 0.61, "map50_int8": 0.58, "map50_drop": 0.03}
    (failure,) = detector_failures(figures, Thresholds())
    assert "0.6100 (FP32)" in failure and "0.5800 (INT8)" in failure and "over 0.02" in failure
    assert detector_failures({**figures, "map50_int8": 0.6, "map50_drop": 0.01}, Thresholds()) == []
    assert detector_failures({**figures, "map50_int8": float("nan"), "map50_drop": float("nan")}, Thresholds())


def test_speed_note_says_when_int8_is_not_faster():
    assert speed_note(20.0, 10.0) == "2.00x faster"
    assert speed_note(20.0, 25.0) == "INT8 not faster here (0.80x)"
    assert speed_note(None, 10.0) == "-"


def test_keep_float_by_size():
    keep = KeepFloat(max_size=8)
    assert keep.small(8, 8) and keep.small(4, 4) and keep.small(1, 1)
    assert not keep.small(16, 16) and not keep.small(64, 2)
    assert not KeepFloat().small(1, 1)


def test_spread_and_list_images(tmp_path):
    assert spread(list(range(10)), 3) == [0, 4, 9]
    assert spread(list(range(3)), 10) == [0, 1, 2]
    with pytest.raises(CalibrationError):
        list_images(tmp_path)
    (tmp_path / "b.jpg").write_bytes(b"x")
    (tmp_path / "a.png").write_bytes(b"x")
    (tmp_path / "notes.txt").write_text("x")
    assert [p.name for p in list_images(tmp_path)] == ["a.png", "b.jpg"]
    with pytest.raises(CalibrationError, match="no folder"):
        list_images(tmp_path / "missing")


def test_a_failed_pose_pipeline_fails_both_models_and_a_passed_one_clears_it():
    from converters.quantize.pose_check import _with_pipeline_verdict

    figures = {
        "photos": 159,
        "landmark_error_mean_torso": 0.031,
        "shot_same_fraction": 0.99,
        "passed": False,
        "thresholds": {"max_landmark_error": 0.03, "min_shot_same": 0.98},
    }
    failed = _with_pipeline_verdict({"passed": True, "failures": []}, figures)
    assert failed["passed"] is False and "3.10% of torso" in failed["failures"][0]
    cleared = _with_pipeline_verdict(failed, {**figures, "passed": True})
    assert cleared["passed"] is True and cleared["failures"] == []
    own = _with_pipeline_verdict({"passed": False, "failures": ["shot class changes"]}, {**figures, "passed": True})
    assert own["passed"] is False and own["failures"] == ["shot class changes"]


def test_embedder_held_apart_set_is_its_held_out_catalog_items(data_dir):
    manifest = load_manifest(Path(__file__).parents[1] / "quantized_models" / "embedder_triplet_fp32_onnx")
    held_out = set(json.loads((manifest.directory / "holdout_ids.json").read_text())["ids"])
    photos = embedder_holdout_images(manifest, root=data_dir)
    assert len(photos) == len(held_out) == 500
    assert {p.stem for p in photos} == held_out  # the clothing catalog names each image by its id
    assert all(p.is_file() for p in photos)
    assert len(embedder_holdout_images(manifest, count=20, root=data_dir)) == 20


def test_calibration_never_takes_a_held_apart_photo(data_dir, tmp_path):
    manifest = load_manifest(Path(__file__).parents[1] / "quantized_models" / "embedder_triplet_fp32_onnx")
    photos = sorted((data_dir / "clothing" / "images").iterdir())[:4]
    for photo in photos:
        shutil.copy(photo, tmp_path / photo.name)
    held_apart = [tmp_path / photos[1].name]
    tensors, used = calibration_tensors(manifest, tmp_path, count=None, exclude=held_apart)
    assert [p.name for p in used] == [photos[0].name, photos[2].name, photos[3].name]
    assert tensors[0].shape == (1, 3, manifest.input.height, manifest.input.width)
    with pytest.raises(CalibrationError, match="held-apart"):
        calibration_tensors(manifest, tmp_path, count=None, exclude=[tmp_path / p.name for p in photos])


def test_litert_torch_module_paths_read_as_onnx_node_names():
    """One ``--keep-float`` pattern fits the litert-torch route and the ONNX/OpenVINO routes."""
    from converters.quantize.litert_torch import onnx_style_name

    assert onnx_style_name("backbone._blocks.0._expand_conv") == "/backbone/_blocks.0/_expand_conv/"
    assert onnx_style_name("backbone._conv_stem") == "/backbone/_conv_stem/"
    assert onnx_style_name("") == "/"
    assert re.search(r"_blocks\.0/", onnx_style_name("backbone._blocks.0._project_conv"))
    assert not re.search(r"_blocks\.0/", onnx_style_name("backbone._blocks.10._project_conv"))
