"""OpenVINO backend: IR ``.xml``/``.bin`` (and ``.onnx``/``.tflite``, which OpenVINO reads directly)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edge_bml.backends.base import Backend, TensorSpec
from edge_bml.errors import BackendUnavailableError, ModelLoadError

_OV_PRECISION = {"fp32": "f32", "bf16": "bf16"}
_PRECISION_NAMES = {"f32": "fp32", "bf16": "bf16", "f16": "fp16"}


def cpu_offers_bf16(core=None) -> bool:
    """Whether OpenVINO's CPU plugin can compute in bf16 on this machine."""
    if core is None:
        import openvino as ov

        core = ov.Core()
    return "BF16" in core.get_property("CPU", "OPTIMIZATION_CAPABILITIES")


def _spec(port) -> TensorSpec:
    shape = tuple(d.get_length() if d.is_static else -1 for d in port.get_partial_shape())
    return TensorSpec(name=port.any_name, shape=shape, dtype=np.dtype(port.get_element_type().to_dtype()))


class OpenVinoBackend(Backend):
    """Compiles the model for the CPU plugin, latency hint, with a bounded thread count.

    ``INFERENCE_PRECISION_HINT`` is always set: left alone, the CPU plugin runs float layers in bf16
    on CPUs that have it (AVX512-BF16, AMX) and in fp32 elsewhere, so the same variant would give
    different results by machine. ``bf16`` is only compiled where the CPU offers it.
    """

    name = "openvino"
    supported_precisions = ("fp32", "bf16")

    def __init__(
        self, path: str | Path, *, threads: int | None = None, compute_precision: str = "fp32", batch: int | None = None
    ) -> None:
        super().__init__(path, threads=threads, compute_precision=compute_precision, batch=batch)
        try:
            import openvino as ov
        except ImportError:
            raise BackendUnavailableError("the OpenVINO backend needs `pip install openvino`") from None
        config = {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": _OV_PRECISION[compute_precision]}
        if threads:
            config["INFERENCE_NUM_THREADS"] = threads
        core = ov.Core()
        if compute_precision == "bf16" and not cpu_offers_bf16(core):
            raise BackendUnavailableError(
                "this CPU has no bf16 support (AVX512-BF16 or AMX) for OpenVINO; use fp32 or int8 variants"
            )
        try:
            model = core.read_model(str(self.path))
        except Exception as error:  # OpenVINO raises plain RuntimeError subclasses
            raise ModelLoadError(f"OpenVINO cannot load {self.path}: {error}") from error
        if batch is not None:
            try:
                model.reshape(
                    {port: ov.PartialShape([batch, *list(port.get_partial_shape())[1:]]) for port in model.inputs}
                )
            except Exception as error:
                raise BackendUnavailableError(
                    f"OpenVINO cannot run {self.path.name} in batches of {batch}: {error}"
                ) from error
        try:
            self._compiled = core.compile_model(model, "CPU", config)
        except Exception as error:
            raise ModelLoadError(f"OpenVINO cannot load {self.path}: {error}") from error
        self._request = self._compiled.create_infer_request()
        hint = self._compiled.get_property("INFERENCE_PRECISION_HINT")
        # What the plugin actually compiled for, in edge_bml's names (``fp32``/``bf16``).
        self.compiled_precision = _PRECISION_NAMES.get(hint.get_type_name(), hint.get_type_name())
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
