"""A deliberately broken quantization must be caught: the detector calibrated on blank photos collapses.

Calibrated on black frames, the pose detector's activation ranges shrink to what a blank frame gives;
on real photos its score head then clips below the detection threshold and it finds nobody. The
validator must refuse it (nothing written, the FP32 manifest untouched) and, when forced, mark it
failed so that the runtime's ``auto`` never picks it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from converters.quantize.calibration import spread
from converters.quantize.driver import QuantizationRejected, QuantizeOptions, quantize
from edge_bml.manifest import load_manifest
from edge_bml.model_registry import list_manifests, models_dir, select_variant


@pytest.fixture()
def models(tmp_path) -> Path:
    root = tmp_path / "models"
    for manifest in list_manifests(models_dir()):
        if manifest.precision == "fp32" and manifest.task.startswith("pose_"):
            shutil.copytree(manifest.directory, root / manifest.directory.name)
    if len(list(root.glob("*"))) < 4:
        pytest.skip("the FP32 BlazePose variants are not in quantized_models/")
    return root


@pytest.fixture()
def blank_photos(tmp_path) -> Path:
    folder = tmp_path / "blank"
    folder.mkdir()
    for index in range(4):
        cv2.imwrite(str(folder / f"blank_{index}.jpg"), np.zeros((480, 320, 3), np.uint8))
    return folder


@pytest.mark.slow
def test_collapsed_detector_is_refused_and_forced_one_is_marked_failed(models, blank_photos, ccp_val):
    pytest.importorskip("nncf")
    photos = tuple(spread([image["path"] for image in ccp_val], 6))
    source = models / "blazepose_detection_fp32_tflite"
    twin = models / "blazepose_detection_fp32_openvino"
    manifest_before = (twin / "manifest.json").read_text()
    out = models / "blazepose_detection_int8_openvino"
    options = QuantizeOptions(calib_count=4, val_photos=photos, latency_runs=2)
    model_file = load_manifest(source).model_path
    with pytest.raises(QuantizationRejected, match="finds nobody") as refused:
        quantize(model_file, task="pose_detection", target="openvino", calib_dir=blank_photos, out=out, options=options)
    assert "Nothing was written" in str(refused.value) and "--keep-float" in str(refused.value)
    assert not out.exists() and not list(models.glob(".*partial"))
    assert (twin / "manifest.json").read_text() == manifest_before

    forced = QuantizeOptions(calib_count=4, val_photos=photos, latency_runs=2, force=True)
    result = quantize(
        model_file, task="pose_detection", target="openvino", calib_dir=blank_photos, out=out, options=forced
    )
    validation = load_manifest(out).metrics["validation"]
    assert validation["passed"] is False
    assert validation["task"]["people_compared"] == 0
    assert validation["task"]["shot_same_fraction"] < 0.5
    assert result.validation == validation
    # auto skips a failed variant even where it is the fastest; asking for int8 explicitly still gets it.
    assert select_variant("pose_detection", root=models).precision == "fp32"
    assert select_variant("pose_detection", precision="int8", root=models).name == out.name
