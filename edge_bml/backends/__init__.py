"""Inference backends, chosen by a model file's suffix or by name."""

from __future__ import annotations

from pathlib import Path

from edge_bml.backends.base import COMPUTE_PRECISIONS, Backend, TensorSpec
from edge_bml.errors import BackendUnavailableError

BACKEND_NAMES = ("litert", "onnxruntime", "openvino")
_BY_SUFFIX = {".tflite": "litert", ".onnx": "onnxruntime", ".xml": "openvino"}


def backend_for_suffix(path: str | Path) -> str:
    """Name of the backend that runs a file of this suffix.

    Raises:
        ValueError: the suffix is not one edge_bml runs.
    """
    suffix = Path(path).suffix.lower()
    if suffix not in _BY_SUFFIX:
        raise ValueError(f"{path}: unknown model format {suffix!r}; expected one of {sorted(_BY_SUFFIX)}")
    return _BY_SUFFIX[suffix]


def is_available(name: str) -> bool:
    """Whether the runtime behind a backend name can be imported here."""
    import importlib.util

    modules = {
        "litert": ("ai_edge_litert", "tflite_runtime"),
        "onnxruntime": ("onnxruntime",),
        "openvino": ("openvino",),
    }[name]
    return any(importlib.util.find_spec(m) is not None for m in modules)


def open_backend(
    path: str | Path,
    *,
    backend: str | None = None,
    threads: int | None = None,
    compute_precision: str = "fp32",
    batch: int | None = None,
) -> Backend:
    """Load a model file on a backend (by name, or by the file's suffix when ``backend`` is None).

    ``compute_precision`` pins the precision of float layers (``fp32``, or ``bf16`` on OpenVINO where
    the CPU has it); no runtime is left to pick its own. ``batch`` sets every input's first dimension
    (OpenVINO reshapes the model, LiteRT resizes its tensors, ONNX Runtime needs a dynamic one).

    Raises:
        BackendUnavailableError: the runtime is not installed, the name is unknown, it cannot compute
            in ``compute_precision`` here, or it cannot run the model in batches of ``batch``.
        ModelNotFoundError: the file does not exist.
        ModelLoadError: the runtime cannot read the file.
    """
    name = backend or backend_for_suffix(path)
    if name == "litert":
        from edge_bml.backends.litert_backend import LiteRTBackend as cls
    elif name == "onnxruntime":
        from edge_bml.backends.onnxruntime_backend import OnnxRuntimeBackend as cls
    elif name == "openvino":
        from edge_bml.backends.openvino_backend import OpenVinoBackend as cls
    else:
        raise BackendUnavailableError(f"unknown backend {name!r}; choose one of {BACKEND_NAMES}")
    return cls(path, threads=threads, compute_precision=compute_precision, batch=batch)


__all__ = [
    "BACKEND_NAMES",
    "COMPUTE_PRECISIONS",
    "Backend",
    "TensorSpec",
    "backend_for_suffix",
    "is_available",
    "open_backend",
]
