"""ONNX Runtime backend (CPU execution provider)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edge_bml.backends.base import Backend, TensorSpec
from edge_bml.errors import BackendUnavailableError, ModelLoadError
from edge_bml.native_libs import onnxruntime_import_is_unsafe

_ORT_TYPES = {
    "tensor(float)": np.float32,
    "tensor(float16)": np.float16,
    "tensor(double)": np.float64,
    "tensor(int8)": np.int8,
    "tensor(uint8)": np.uint8,
    "tensor(int32)": np.int32,
    "tensor(int64)": np.int64,
    "tensor(bool)": np.bool_,
}


# Session settings that could change float results by machine; set explicitly to their exact values.
PINNED_CONFIG = {"mlas.enable_gemm_fastmath_arm64_bfloat16": "0", "session.set_denormal_as_zero": "0"}


def _spec(arg) -> TensorSpec:
    shape = tuple(d if isinstance(d, int) else -1 for d in arg.shape)
    return TensorSpec(name=arg.name, shape=shape, dtype=np.dtype(_ORT_TYPES.get(arg.type, np.float32)))


class OnnxRuntimeBackend(Backend):
    """Runs an ``.onnx`` file; QDQ INT8 models run on ORT's integer kernels.

    Float layers compute in fp32: ORT's bf16 fast-math GEMM (an ARM64 option) is switched off and
    denormals are kept, so results do not depend on the CPU's ISA.
    """

    name = "onnxruntime"

    def __init__(
        self, path: str | Path, *, threads: int | None = None, compute_precision: str = "fp32", batch: int | None = None
    ) -> None:
        super().__init__(path, threads=threads, compute_precision=compute_precision, batch=batch)
        if onnxruntime_import_is_unsafe():
            raise BackendUnavailableError(
                "usearch was imported before edge_bml, and ONNX Runtime would crash the process if loaded "
                "now (two copies of libstdc++); import edge_bml (or onnxruntime) before usearch"
            )
        try:
            import onnxruntime as ort
        except ImportError:
            raise BackendUnavailableError("the ONNX Runtime backend needs `pip install onnxruntime`") from None
        options = ort.SessionOptions()
        options.log_severity_level = 3
        for key, value in PINNED_CONFIG.items():
            options.add_session_config_entry(key, value)
        if threads:
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
        try:
            self._session = ort.InferenceSession(
                str(self.path), sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception as error:  # ORT raises its own unexported exception types
            raise ModelLoadError(f"ONNX Runtime cannot load {self.path}: {error}") from error
        self._inputs = [_spec(a) for a in self._session.get_inputs()]
        self._outputs = [_spec(a) for a in self._session.get_outputs()]
        fixed = [s.name for s in self._inputs if batch is not None and s.shape and s.shape[0] not in (-1, batch)]
        if fixed:
            self._session = None
            raise BackendUnavailableError(
                f"ONNX Runtime cannot run {self.path.name} in batches of {batch}: inputs {fixed} have a fixed batch "
                "(export the model with a dynamic first dimension)"
            )

    @property
    def inputs(self) -> list[TensorSpec]:
        return list(self._inputs)

    @property
    def outputs(self) -> list[TensorSpec]:
        return list(self._outputs)

    def _run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        values = self._session.run(None, feeds)
        return {spec.name: value for spec, value in zip(self._outputs, values)}

    def close(self) -> None:
        self._session = None
