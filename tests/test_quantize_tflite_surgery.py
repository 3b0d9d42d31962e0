"""The .tflite surgery that lets the quantizers read MediaPipe's files keeps the arithmetic unchanged."""

from __future__ import annotations

import numpy as np
import pytest

from converters.quantize.tflite_surgery import float32_with_signature, signature_inputs
from edge_bml.backends import open_backend
from edge_bml.model_registry import list_manifests, models_dir


def _tflite(task: str):
    for manifest in list_manifests(models_dir()):
        if (manifest.task, manifest.format, manifest.precision) == (task, "tflite", "fp32"):
            return manifest
    pytest.skip(f"no FP32 {task} .tflite in quantized_models/")


@pytest.mark.parametrize("task", ["pose_detection", "pose_landmarks"])
def test_folded_model_matches_the_source_and_has_a_signature(task, tmp_path):
    from ai_edge_litert.tools import flatbuffer_utils

    manifest = _tflite(task)
    target = tmp_path / "folded.tflite"
    done = float32_with_signature(manifest.model_path, target)
    assert done["signature_added"] is True and done["folded_ops"] > 100
    key, inputs = signature_inputs(target)
    assert (key, inputs) == ("serving_default", [manifest.input.name])
    model = flatbuffer_utils.read_model(str(target))
    codes = {flatbuffer_utils.opcode_to_name(model, op.opcodeIndex) for op in model.subgraphs[0].operators}
    assert not codes & {"DEQUANTIZE", "DENSIFY"}
    rng = np.random.default_rng(0)
    tensor = rng.uniform(0, 1, (1, manifest.input.height, manifest.input.width, 3)).astype(np.float32)
    with open_backend(manifest.model_path) as original, open_backend(target) as folded:
        expected = original.run({manifest.input.name: tensor})
        got = folded.run({manifest.input.name: tensor})
    for role, name in manifest.outputs.items():
        scale = float(np.abs(expected[name]).max()) + 1e-6
        assert np.abs(expected[name] - got[name]).max() / scale < 1e-3, role


def test_signature_inputs_refuses_a_model_without_signature():
    from converters.quantize.tflite_surgery import TfliteSurgeryError

    with pytest.raises(TfliteSurgeryError, match="no SignatureDef"):
        signature_inputs(_tflite("pose_detection").model_path)
