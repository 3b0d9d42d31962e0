"""LiteRT (TensorFlow Lite) backend: ai-edge-litert, or tflite-runtime where only that is installed."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edge_bml.backends.base import Backend, TensorSpec
from edge_bml.errors import BackendUnavailableError, ModelLoadError


def _interpreter_class() -> type:
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        try:
            from tflite_runtime.interpreter import Interpreter
        except ImportError:
            raise BackendUnavailableError(
                "the LiteRT backend needs `pip install ai-edge-litert` "
                "(or `pip install tflite-runtime`, which needs numpy<2)"
            ) from None
    return Interpreter


def _spec(detail: dict) -> TensorSpec:
    scale, zero_point = detail.get("quantization", (0.0, 0))
    quantized = scale not in (0, 0.0)
    return TensorSpec(
        name=detail["name"],
        shape=tuple(int(d) for d in detail["shape"]),
        dtype=np.dtype(detail["dtype"]),
        scale=float(scale) if quantized else None,
        zero_point=int(zero_point) if quantized else None,
    )


def _new_interpreter(interpreter_class: type, path: str, threads: int | None):
    try:
        return interpreter_class(
            model_path=path, num_threads=threads, experimental_default_delegate_latest_features=False
        )
    except TypeError:  # tflite-runtime 2.14 has no such option (and no such features)
        return interpreter_class(model_path=path, num_threads=threads)


class LiteRTBackend(Backend):
    """Runs a ``.tflite`` file with XNNPACK on the CPU, in the precision the file's tensors have.

    XNNPACK's "latest features" (which may run float graphs in fp16 or quantize them on the fly)
    stay off: fp32 tensors compute in fp32.
    """

    name = "litert"

    def __init__(
        self, path: str | Path, *, threads: int | None = None, compute_precision: str = "fp32", batch: int | None = None
    ) -> None:
        super().__init__(path, threads=threads, compute_precision=compute_precision, batch=batch)
        interpreter_class = _interpreter_class()
        try:
            self._interpreter = _new_interpreter(interpreter_class, str(self.path), threads)
            if batch is None:
                self._interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as error:
            raise ModelLoadError(f"LiteRT cannot load {self.path}: {error}") from error
        if batch is not None:
            try:
                for detail in self._interpreter.get_input_details():
                    self._interpreter.resize_tensor_input(detail["index"], [batch, *detail["shape"][1:]])
                self._interpreter.allocate_tensors()
            except (ValueError, RuntimeError) as error:
                raise BackendUnavailableError(
                    f"LiteRT cannot run {self.path.name} in batches of {batch}: {error}"
                ) from error
        self._inputs = self._interpreter.get_input_details()
        self._outputs = self._interpreter.get_output_details()

    @property
    def inputs(self) -> list[TensorSpec]:
        return [_spec(d) for d in self._inputs]

    @property
    def outputs(self) -> list[TensorSpec]:
        return [_spec(d) for d in self._outputs]

    def _run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        for detail in self._inputs:
            self._interpreter.set_tensor(detail["index"], feeds[detail["name"]])
        self._interpreter.invoke()
        return {d["name"]: self._interpreter.get_tensor(d["index"]) for d in self._outputs}

    def close(self) -> None:
        self._interpreter = None
