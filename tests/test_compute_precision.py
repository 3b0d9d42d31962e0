"""Every runtime computes at the precision the variant names, whatever the host CPU would pick itself."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from edge_bml.backends import open_backend
from edge_bml.backends.onnxruntime_backend import PINNED_CONFIG
from edge_bml.backends.openvino_backend import cpu_offers_bf16
from edge_bml.errors import BackendUnavailableError
from edge_bml.model_registry import list_manifests, models_dir

DETECTION = models_dir() / "blazepose_detection_fp32_tflite" / "pose_detection.tflite"
DETECTION_IR = models_dir() / "blazepose_detection_fp32_openvino" / "pose_detection.xml"
OPENVINO_VARIANTS = [m for m in list_manifests() if m.backend == "openvino"]


def _detector_input() -> np.ndarray:
    return np.random.default_rng(1).uniform(-1, 1, (1, 224, 224, 3)).astype(np.float32)


def _max_difference(a: dict, b: dict) -> float:
    return max(float(np.max(np.abs(a[name] - b[name]))) for name in a)


@pytest.fixture
def host_defaults_to_bf16(monkeypatch):
    """Make OpenVINO behave as on a Xeon with AMX/AVX512-BF16: a compile without a precision hint gets bf16.

    Records every compile config, so the test sees what the backend asked for on any host.
    """
    import openvino as ov

    configs = []
    original = ov.Core.compile_model

    def compile_model(self, model, device_name=None, config=None):
        config = dict(config or {})
        configs.append(dict(config))
        if cpu_offers_bf16(self):
            config.setdefault("INFERENCE_PRECISION_HINT", "bf16")
        return original(self, model, device_name, config)

    monkeypatch.setattr(ov.Core, "compile_model", compile_model)
    return configs


@pytest.mark.parametrize("manifest", OPENVINO_VARIANTS, ids=lambda m: m.name)
def test_every_openvino_variant_compiles_in_f32(manifest, host_defaults_to_bf16):
    with open_backend(manifest.model_path, backend="openvino", threads=1) as runtime:
        assert runtime.compiled_precision == "fp32"
    assert host_defaults_to_bf16[-1]["INFERENCE_PRECISION_HINT"] == "f32"


def test_fp32_openvino_matches_litert_even_where_the_host_would_pick_bf16(host_defaults_to_bf16):
    tensor = _detector_input()
    with open_backend(DETECTION) as litert, open_backend(DETECTION_IR) as openvino:
        difference = _max_difference(litert.run({"input_1": tensor}), openvino.run({"input_1": tensor}))
    assert difference < 2e-3


@pytest.mark.skipif(not cpu_offers_bf16(), reason="this CPU has no bf16 (AVX512-BF16 or AMX) for OpenVINO")
def test_bf16_is_visible_in_the_results_where_the_cpu_has_it():
    # The check above would catch a silent bf16 run: bf16 moves these outputs by far more than 2e-3.
    tensor = _detector_input()
    with open_backend(DETECTION) as litert, open_backend(DETECTION_IR, compute_precision="bf16") as bf16:
        assert bf16.compiled_precision == "bf16"
        difference = _max_difference(litert.run({"input_1": tensor}), bf16.run({"input_1": tensor}))
    assert difference > 0.05


@pytest.mark.skipif(cpu_offers_bf16(), reason="this CPU offers bf16; the refusal is for CPUs without it")
def test_bf16_is_refused_where_the_cpu_lacks_it():
    with pytest.raises(BackendUnavailableError, match="no bf16"):
        open_backend(DETECTION_IR, compute_precision="bf16")


def test_litert_and_onnxruntime_refuse_bf16():
    with pytest.raises(BackendUnavailableError, match="cannot compute in 'bf16'"):
        open_backend(DETECTION, compute_precision="bf16")


def test_onnxruntime_sessions_carry_the_pinned_settings():
    embedder = models_dir() / "embedder_triplet_fp32_onnx" / "embedder.onnx"
    with open_backend(embedder, threads=1) as runtime:
        options = runtime._session.get_session_options()
        for key, value in PINNED_CONFIG.items():
            assert options.get_session_config_entry(key) == value


EMBEDDER = str(models_dir() / "embedder_triplet_fp32_onnx" / "embedder.onnx")
RUN_BOTH = f"""
import numpy as np
from edge_bml.backends import open_backend
from edge_bml.catalog.shards import new_index
with open_backend({EMBEDDER!r}, threads=1) as runtime:
    out = runtime.run({{"image": np.zeros((1, 3, 192, 192), np.float32)}})
index = new_index(8, "f32")
index.add(np.arange(4), np.eye(4, 8, dtype=np.float32))
print("ok", len(index))
"""


@pytest.mark.parametrize(
    "first", ["import edge_bml, usearch.index, onnxruntime", "import edge_bml, onnxruntime, usearch.index"]
)
def test_usearch_and_onnxruntime_load_in_either_order(first):
    result = subprocess.run(
        [sys.executable, "-c", first + "\n" + RUN_BOTH], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "ok 4" in result.stdout


def test_usearch_loaded_before_edge_bml_gives_a_clear_error_not_a_crash():
    code = "import usearch.index\n" + RUN_BOTH
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, (result.returncode, result.stderr[-2000:])
    assert "BackendUnavailableError" in result.stderr and "import edge_bml" in result.stderr
