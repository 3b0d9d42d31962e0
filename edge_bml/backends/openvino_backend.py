"""OpenVINO backend: IR ``.xml``/``.bin`` (and ``.onnx``/``.tflite``, which OpenVINO reads directly)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edge_bml.backends.base import Backend, TensorSpec
from edge_bml.errors import BackendUnavailableError, ModelLoadError


def _spec(port) -> TensorSpec:
    shape = tuple(d.get_length() if d.is_static else -1 for d in port.get_partial_shape())
    return TensorSpec(name=port.any_name, shape=shape, dtype=np.dtype(port.get_element_type().to_dtype()))


class OpenVinoBackend(Backend):
    """Compiles the model for the CPU plugin, latency hint, with a bounded thread count."""

    name = "openvino"

    def __init__(self, path: str | Path, *, threads: int | None = None) -> None:
        super().__init__(path, threads=threads)
        try:
            import openvino as ov
        except ImportError:
            raise BackendUnavailableError("the OpenVINO backend needs `pip install openvino`") from None
        config = {"PERFORMANCE_HINT": "LATENCY"}
        if threads:
            config["INFERENCE_NUM_THREADS"] = threads
        try:
            core = ov.Core()
            model = core.read_model(str(self.path))
            self._compiled = core.compile_model(model, "CPU", config)
        except Exception as error:  # OpenVINO raises plain RuntimeError subclasses
            raise ModelLoadError(f"OpenVINO cannot load {self.path}: {error}") from error
        self._request = self._compiled.create_infer_request()
        self._inputs = [_spec(p) for p in self._compiled.inputs]
        self._outputs = [_spec(p) for p in self._compiled.outputs]

    @property
    def inputs(self) -> list[TensorSpec]:
        return list(self._inputs)

    @property
    def outputs(self) -> list[TensorSpec]:
        return list(self._outputs)

    def _run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        results = self._request.infer(feeds)
        return {spec.name: np.asarray(results[port]) for spec, port in zip(self._outputs, self._compiled.outputs)}

    def close(self) -> None:
        self._request = None
        self._compiled = None
