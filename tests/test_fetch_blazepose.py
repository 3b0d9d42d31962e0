"""`edge-bml-convert fetch blazepose` from a local wheel and from a local pip mirror (no internet)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from converters.cli import main as convert_main
from converters.fetch.blazepose import FetchError, fetch_blazepose
from converters.fetch.blazepose_spec import MODELS
from edge_bml.errors import ChecksumMismatchError
from edge_bml.manifest import load_manifest
from edge_bml.model_registry import models_dir

WHEEL_NAME = "mediapipe-0.10.21-cp311-cp311-manylinux_2_28_x86_64.whl"


def _model_bytes() -> dict[str, bytes]:
    shipped = {
        "pose_detection.tflite": models_dir() / "blazepose_detection_fp32_tflite" / "pose_detection.tflite",
        "pose_landmark_full.tflite": models_dir()
        / "blazepose_landmarks_full_fp32_tflite"
        / "pose_landmark_full.tflite",
    }
    return {spec["wheel_path"]: shipped[Path(spec["wheel_path"]).name].read_bytes() for spec in MODELS}


def _wheel(path: Path, files: dict[str, bytes]) -> Path:
    """A wheel laid out like mediapipe's, holding the given files plus minimal metadata."""
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
        archive.writestr(
            "mediapipe-0.10.21.dist-info/METADATA", "Metadata-Version: 2.1\nName: mediapipe\nVersion: 0.10.21\n"
        )
        archive.writestr(
            "mediapipe-0.10.21.dist-info/WHEEL",
            "Wheel-Version: 1.0\nRoot-Is-Purelib: false\nTag: cp311-cp311-manylinux_2_28_x86_64\n",
        )
        archive.writestr("mediapipe-0.10.21.dist-info/RECORD", "")
    return path


def test_fetch_from_a_local_wheel_writes_verified_variants(tmp_path):
    wheel = _wheel(tmp_path / WHEEL_NAME, _model_bytes())
    out = tmp_path / "models"
    assert convert_main(["fetch", "blazepose", "--wheel", str(wheel), "--out", str(out)]) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "blazepose_detection_fp32_openvino",
        "blazepose_detection_fp32_tflite",
        "blazepose_landmarks_full_fp32_openvino",
        "blazepose_landmarks_full_fp32_tflite",
    ]
    for name in names:
        manifest = load_manifest(out / name)
        manifest.verify()
        assert manifest.license == "Apache-2.0"
        assert manifest.source["package"] == "mediapipe==0.10.21"
    shipped = load_manifest(models_dir() / "blazepose_detection_fp32_tflite")
    assert load_manifest(out / "blazepose_detection_fp32_tflite").sha256 == shipped.sha256


def test_a_tampered_wheel_is_refused_and_writes_nothing(tmp_path):
    files = _model_bytes()
    first = next(iter(files))
    files[first] = files[first][:-4] + b"\0\0\0\0"
    wheel = _wheel(tmp_path / WHEEL_NAME, files)
    with pytest.raises(ChecksumMismatchError, match="expected"):
        fetch_blazepose(tmp_path / "models", wheel, openvino=False)
    assert not (tmp_path / "models").exists() or not any((tmp_path / "models").iterdir())


def test_wrong_or_missing_wheels_are_clear_errors(tmp_path, capsys):
    with pytest.raises(FetchError, match="no wheel"):
        fetch_blazepose(tmp_path, tmp_path / "nothing.whl")
    not_zip = tmp_path / "bad.whl"
    not_zip.write_text("hello")
    with pytest.raises(FetchError, match="not a readable wheel"):
        fetch_blazepose(tmp_path, not_zip)
    empty = _wheel(tmp_path / "empty.whl", {})
    assert convert_main(["fetch", "blazepose", "--wheel", str(empty), "--out", str(tmp_path / "m")]) == 2
    assert "has no mediapipe/modules/pose_detection" in capsys.readouterr().err


def test_download_goes_through_pip_and_honours_a_local_mirror(tmp_path, monkeypatch):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    _wheel(mirror / WHEEL_NAME, _model_bytes())
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(mirror))
    written = fetch_blazepose(tmp_path / "models", openvino=False)
    assert [p.name for p in written] == ["blazepose_detection_fp32_tflite", "blazepose_landmarks_full_fp32_tflite"]
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path / "empty-mirror"))
    with pytest.raises(FetchError, match="--wheel PATH"):
        fetch_blazepose(tmp_path / "models2", openvino=False)
