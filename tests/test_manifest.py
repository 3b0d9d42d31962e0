"""Manifests: parsing, checksums checked at load, atomic writes, and variant selection."""

from __future__ import annotations

import json
import shutil

import pytest

from edge_bml.errors import ChecksumMismatchError, ManifestError, ModelNotFoundError
from edge_bml.manifest import load_manifest, write_manifest
from edge_bml.model_registry import list_manifests, load_model, models_dir, select_variant

VARIANT = "blazepose_detection_fp32_tflite"


@pytest.fixture
def variant_copy(tmp_path):
    target = tmp_path / "models" / VARIANT
    shutil.copytree(models_dir() / VARIANT, target)
    return target


def test_shipped_manifests_verify_and_carry_preprocessing():
    manifests = {m.name: m for m in list_manifests()}
    assert {"blazepose_detection_fp32_tflite", "blazepose_landmarks_full_fp32_tflite"} <= set(manifests)
    for manifest in manifests.values():
        manifest.verify()
        assert manifest.license
        assert manifest.source
    detection = manifests[VARIANT]
    assert (detection.input.width, detection.input.height) == (224, 224)
    assert detection.input.mean == (127.5, 127.5, 127.5)
    assert detection.decoder["anchors"]["strides"] == [8, 16, 32, 32, 32]


def test_changed_model_file_fails_the_checksum(variant_copy):
    model = variant_copy / "pose_detection.tflite"
    model.write_bytes(model.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(ChecksumMismatchError, match="sha256"):
        load_model(load_manifest(variant_copy))


def test_missing_model_file_is_reported(variant_copy):
    (variant_copy / "pose_detection.tflite").unlink()
    with pytest.raises(ModelNotFoundError, match="missing"):
        load_manifest(variant_copy).verify()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.pop("task"), "missing field 'task'"),
        (lambda d: d.update(task="segmentation"), "task 'segmentation'"),
        (lambda d: d.update(precision="int4"), "precision 'int4'"),
        (lambda d: d["input"].pop("width"), "bad input spec"),
        (lambda d: d["input"].update(std=[0, 1, 1]), "std must not be zero"),
        (lambda d: d.update(sha256={}), "no entry for the model file"),
        (lambda d: d.update(schema=99), "schema 99"),
    ],
)
def test_bad_manifest_fields_are_reported(variant_copy, change, message):
    path = variant_copy / "manifest.json"
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))
    with pytest.raises(ManifestError, match=message):
        load_manifest(variant_copy)


def test_invalid_json_and_missing_manifest(variant_copy, tmp_path):
    (variant_copy / "manifest.json").write_text("{not json")
    with pytest.raises(ManifestError, match="not valid JSON"):
        load_manifest(variant_copy)
    with pytest.raises(ModelNotFoundError):
        load_manifest(tmp_path)


def test_write_manifest_round_trips_and_leaves_no_temporary_files(variant_copy):
    manifest = load_manifest(variant_copy)
    write_manifest(manifest)
    again = load_manifest(variant_copy)
    assert again == manifest
    assert sorted(p.name for p in variant_copy.iterdir()) == ["manifest.json", "pose_detection.tflite"]


def test_select_variant_by_backend_and_precision(variant_copy):
    root = variant_copy.parent
    shutil.copytree(models_dir() / "blazepose_detection_fp32_openvino", root / "blazepose_detection_fp32_openvino")
    assert select_variant("pose_detection", backend="openvino", root=root).format == "openvino"
    assert select_variant("pose_detection", backend="litert", root=root).format == "tflite"
    with pytest.raises(ModelNotFoundError, match="precision=fp16"):
        select_variant("pose_detection", precision="fp16", root=root)
    with pytest.raises(ModelNotFoundError, match="no embedder model"):
        select_variant("embedder", root=root)
    with pytest.raises(ValueError, match="backend must be"):
        select_variant("pose_detection", backend="cuda", root=root)


def test_auto_prefers_the_fastest_measured_variant_that_passed(variant_copy):
    root = variant_copy.parent
    fast = root / "blazepose_detection_fp32_openvino"
    shutil.copytree(models_dir() / "blazepose_detection_fp32_openvino", fast)
    manifest = load_manifest(fast)
    write_manifest(type(manifest)(**{**manifest.__dict__, "metrics": {"latency_ms": {"threads_2": 1.0}}}))
    assert select_variant("pose_detection", root=root).name == "blazepose_detection_fp32_openvino"
    failed = {"latency_ms": {"threads_2": 1.0}, "validation": {"passed": False}}
    write_manifest(type(manifest)(**{**manifest.__dict__, "metrics": failed}))
    assert select_variant("pose_detection", root=root).name == VARIANT


def test_derive_makes_a_checked_manifest_of_a_new_variant(tmp_path):
    import pytest as _pytest

    from edge_bml.errors import ManifestError
    from edge_bml.model_registry import select_variant

    source = select_variant("detector", precision="fp32", backend="onnxruntime")
    derived = source.derive(tmp_path, name="article_detector_test", precision="int8")
    assert (derived.name, derived.precision, derived.directory) == ("article_detector_test", "int8", tmp_path)
    assert derived.labels == source.labels and derived.decoder == source.decoder
    with _pytest.raises(ManifestError):
        source.derive(tmp_path, task=7)
