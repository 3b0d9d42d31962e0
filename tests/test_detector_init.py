"""--init-from: the shipped FP32 ONNX detector loads back into the torch network and computes the same outputs."""

from __future__ import annotations

import json

import numpy as np
import pytest

from edge_bml.errors import ModelLoadError
from edge_bml.image_io import read_image
from edge_bml.manifest import load_manifest
from edge_bml.model_registry import models_dir

pytest.importorskip("torch")
pytest.importorskip("onnx")

VARIANT = models_dir() / "article_detector_fp32_onnx"


def test_scope_names_map_to_module_paths():
    from converters.train.detector_onnx_init import module_path

    assert module_path("/backbone/features.1/conv/conv.0/conv.0.0/Conv_output_0") == "backbone.features.1.conv.0.0"
    assert module_path("/backbone/features.0/features.0.0/Conv_output_0") == "backbone.features.0.0"
    assert module_path("/head/cls_out.2/Conv_output_0") == "head.cls_out.2"


def test_the_shipped_onnx_loads_back_and_matches_onnxruntime(ccp_val):
    import onnxruntime
    import torch

    from converters.train.detector_onnx_init import load_onnx_detector
    from converters.train.torch_models.article_detector import ArticleDetector
    from edge_bml.stages.detector_crop import cut_crop, person_crop_box

    if not VARIANT.is_dir():
        pytest.skip(f"{VARIANT} is not installed")
    manifest = load_manifest(VARIANT)
    spec = manifest.input
    model = ArticleDetector(num_classes=len(manifest.labels), width=spec.width, height=spec.height)
    counts = load_onnx_detector(model, VARIANT)
    assert counts["convolutions"] == sum(isinstance(m, torch.nn.Conv2d) for m in model.modules())

    photo = read_image(ccp_val[0]["path"])
    crop = person_crop_box(np.asarray(ccp_val[0]["person_box"], np.float32), aspect=spec.width / spec.height)
    tensor = spec.normalize(cut_crop(photo, crop, spec.width, spec.height))
    session = onnxruntime.InferenceSession(str(VARIANT / manifest.model_file), providers=["CPUExecutionProvider"])
    expected = session.run(None, {spec.name: tensor})[0]
    model.eval()
    model.export = True
    with torch.no_grad():
        got = model(torch.from_numpy(tensor)).numpy()
    assert got.shape == expected.shape
    np.testing.assert_allclose(got[:, 4:], expected[:, 4:], atol=1e-4)  # class scores
    np.testing.assert_allclose(got[:, :4], expected[:, :4], atol=1e-3)  # boxes, in input pixels (up to 384)


def test_the_shipped_onnx_starts_a_network_of_a_larger_input():
    # A larger input for small articles: the convolutions fit any input size, so a 192x384 variant can
    # start a 224x448 run.
    torch = pytest.importorskip("torch")
    from converters.train.detector_onnx_init import load_onnx_detector
    from converters.train.torch_models.article_detector import ArticleDetector

    if not VARIANT.is_dir():
        pytest.skip(f"{VARIANT} is not installed")
    manifest = load_manifest(VARIANT)
    small = ArticleDetector(num_classes=len(manifest.labels), width=192, height=384)
    large = ArticleDetector(num_classes=len(manifest.labels), width=224, height=448)
    assert load_onnx_detector(large, VARIANT) == load_onnx_detector(small, VARIANT)
    for model in (small, large):
        model.eval()
        model.export = True
    with torch.no_grad():  # more anchor points at the larger input, the same rows per point
        out_large, out_small = large(torch.zeros(1, 3, 448, 224)), small(torch.zeros(1, 3, 384, 192))
    assert out_large.shape[1] == out_small.shape[1] and out_large.shape[2] > out_small.shape[2]


def test_a_variant_of_another_task_is_refused():
    from converters.train.detector_onnx_init import load_onnx_detector
    from converters.train.torch_models.article_detector import ArticleDetector

    other = models_dir() / "embedder_triplet_fp32_onnx"
    if not other.is_dir():
        pytest.skip(f"{other} is not installed")
    with pytest.raises(ModelLoadError, match="FP32 ONNX detector"):
        load_onnx_detector(ArticleDetector(num_classes=12, width=192, height=384), other)


def test_smoke_training_from_the_onnx_with_extra_annotations_records_both(data_dir, tmp_path):
    from converters.cli import main as convert_main

    if not VARIANT.is_dir():
        pytest.skip(f"{VARIANT} is not installed")
    photo = data_dir / "ccp" / "tagged" / "1005.jpg"
    image = {"id": "1005", "file": str(photo.resolve()), "split": "pseudo", "person_box": [60, 20, 260, 470]}
    image.update(objects=[{"category": "skirt", "box": [90, 200, 230, 330]}], ignore_categories=["eyewear"])
    extra = tmp_path / "pseudo.json"
    extra.write_text(json.dumps({"images": [image]}))
    out = tmp_path / "article_detector_from_onnx"
    argv = ["train", "detector", "--data", str(data_dir), "--out", str(out), "--smoke", "--init-from", str(VARIANT)]
    argv += ["--extra-annotations", str(extra), "--checkpoints", str(tmp_path / "ckpt"), "--cache", str(tmp_path / "c")]
    assert convert_main(argv) == 0
    source = load_manifest(out).source
    assert source["init_from"] == str(VARIANT) and source["config"]["extra_annotations"] == [str(extra)]
    assert str(extra) in source["training_data"]
