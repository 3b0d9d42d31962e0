"""The three runtimes behind one interface, on the shipped BlazePose files, and their typed errors."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from edge_bml.backends import backend_for_suffix, open_backend
from edge_bml.errors import BackendUnavailableError, InputSpecError, ModelLoadError, ModelNotFoundError
from edge_bml.model_registry import models_dir

DETECTION = models_dir() / "blazepose_detection_fp32_tflite" / "pose_detection.tflite"
DETECTION_IR = models_dir() / "blazepose_detection_fp32_openvino" / "pose_detection.xml"


@pytest.mark.parametrize(
    ("path", "backend"), [(DETECTION, "litert"), (DETECTION_IR, "openvino"), (DETECTION, "openvino")]
)
def test_backends_describe_and_run_the_same_model(path, backend):
    with open_backend(path, backend=backend, threads=1) as runtime:
        (spec,) = runtime.inputs
        assert spec.shape == (1, 224, 224, 3)
        assert spec.dtype == np.float32
        assert spec.scale is None
        shapes = sorted(tuple(s.shape) for s in runtime.outputs)
        assert shapes == [(1, 2254, 1), (1, 2254, 12)]
        rng = np.random.default_rng(0)
        outputs = runtime.run({spec.name: rng.uniform(-1, 1, spec.shape).astype(np.float32)})
        assert {o.name for o in runtime.outputs} == set(outputs)
        assert all(np.isfinite(v).all() for v in outputs.values())


def test_litert_and_openvino_agree_on_raw_outputs():
    rng = np.random.default_rng(1)
    tensor = rng.uniform(-1, 1, (1, 224, 224, 3)).astype(np.float32)
    with open_backend(DETECTION) as litert, open_backend(DETECTION_IR) as openvino:
        a = litert.run({"input_1": tensor})
        b = openvino.run({"input_1": tensor})
    for name in a:
        np.testing.assert_allclose(a[name], b[name], atol=2e-3, rtol=1e-4)


def _relu_onnx(path, shape: list[int]):
    """A one-node ONNX model (ReLU) with a fixed input shape, written to ``path``."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"])],
        "relu",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, shape)],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


def test_onnxruntime_backend_runs_an_onnx_file(tmp_path):
    path = _relu_onnx(tmp_path / "relu.onnx", [1, 4])
    with open_backend(path, threads=2) as runtime:
        assert runtime.name == "onnxruntime"
        out = runtime.run({"x": np.array([[-1, 2, -3, 4]], np.float32)})
    np.testing.assert_array_equal(out["y"], [[0, 2, 0, 4]])


def test_a_fixed_batch_onnx_model_says_it_cannot_take_pairs(tmp_path):
    """ONNX Runtime cannot resize a fixed batch: a typed error (the pose landmarker then reads twice)."""
    path = _relu_onnx(tmp_path / "relu.onnx", [1, 3])
    with pytest.raises(BackendUnavailableError, match="fixed batch"):
        open_backend(path, batch=2)
    with open_backend(path, batch=1) as backend:
        assert backend.inputs[0].shape == (1, 3)
    with pytest.raises(ValueError, match="batch must be >= 1"):
        open_backend(path, batch=0)


def test_suffix_picks_the_backend():
    assert backend_for_suffix("a/b.tflite") == "litert"
    assert backend_for_suffix("b.ONNX") == "onnxruntime"
    assert backend_for_suffix("c.xml") == "openvino"
    with pytest.raises(ValueError, match="unknown model format"):
        backend_for_suffix("d.pb")


def test_missing_file_is_a_typed_error(tmp_path):
    with pytest.raises(ModelNotFoundError, match="not found"):
        open_backend(tmp_path / "nothing.tflite")


@pytest.mark.parametrize("suffix", [".tflite", ".onnx", ".xml"])
def test_corrupt_file_is_a_typed_error(tmp_path, suffix):
    path = tmp_path / f"broken{suffix}"
    path.write_bytes(b"this is not a model" * 10)
    with pytest.raises(ModelLoadError, match="cannot load"):
        open_backend(path)


def test_wrong_inputs_are_typed_errors():
    with open_backend(DETECTION) as runtime:
        with pytest.raises(InputSpecError, match="must have shape"):
            runtime.run({"input_1": np.zeros((1, 128, 128, 3), np.float32)})
        with pytest.raises(InputSpecError, match="must be float32"):
            runtime.run({"input_1": np.zeros((1, 224, 224, 3), np.uint8)})
        with pytest.raises(InputSpecError, match="missing"):
            runtime.run({"image": np.zeros((1, 224, 224, 3), np.float32)})


def test_uninstalled_runtime_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "ai_edge_litert.interpreter", None)
    monkeypatch.setitem(sys.modules, "ai_edge_litert", None)
    monkeypatch.setitem(sys.modules, "tflite_runtime", None)
    monkeypatch.setitem(sys.modules, "tflite_runtime.interpreter", None)
    with pytest.raises(BackendUnavailableError, match="pip install ai-edge-litert"):
        open_backend(DETECTION)


def test_unknown_backend_name_and_bad_threads():
    with pytest.raises(BackendUnavailableError, match="unknown backend"):
        open_backend(DETECTION, backend="tensorrt")
    with pytest.raises(ValueError, match="threads"):
        open_backend(DETECTION, threads=0)
