"""``edge-bml-convert checkpoint``: an FP32 ONNX embedder back to a PyTorch checkpoint the litert-torch route takes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

VARIANT = Path(__file__).resolve().parents[1] / "quantized_models" / "embedder_triplet_fp32_onnx"


def test_checkpoint_from_onnx_computes_what_the_onnx_model_does(tmp_path, capsys):
    pytest.importorskip("torch")
    import onnxruntime as ort
    import torch

    from converters.cli import main
    from converters.quantize.litert_torch import torch_module
    from edge_bml.manifest import load_manifest

    if not (VARIANT / "embedder.onnx").is_file():
        pytest.skip(f"{VARIANT} is not in this checkout")
    out = tmp_path / "ckpt" / "triplet.pt"
    assert main(["checkpoint", str(VARIANT), "--out", str(out)]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    assert not list(out.parent.glob("*.tmp"))
    state = torch.load(out, map_location="cpu", weights_only=False)
    assert state["config"]["size"] == 192 and state["config"]["dims"] == 256
    assert state["recovered_from"]["variant"] == "embedder_triplet_fp32_onnx"

    module, described, _ = torch_module(out, load_manifest(VARIANT))
    assert described["dims"] == 256 and described["size"] == 192
    x = np.random.default_rng(1).normal(size=(2, 3, 192, 192)).astype(np.float32)
    reference = ort.InferenceSession(str(VARIANT / "embedder.onnx")).run(None, {"image": x})[0]
    with torch.no_grad():
        ours = module(torch.from_numpy(x)).numpy()
    assert np.abs(ours - reference).max() < 1e-5


def test_checkpoint_needs_an_fp32_onnx_embedder(tmp_path, capsys):
    pytest.importorskip("torch")
    from converters.cli import main

    int8 = VARIANT.parent / "embedder_triplet_int8_openvino"
    if not int8.is_dir():
        pytest.skip(f"{int8} is not in this checkout")
    out = tmp_path / "x.pt"
    assert main(["checkpoint", str(int8), "--out", str(out)]) == 2
    assert "needs an FP32 ONNX embedder variant" in capsys.readouterr().err
    assert not out.exists()
