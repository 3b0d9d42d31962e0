"""The model variant a benchmark case asks for, or a clean skip; FP32 ONNX files stand in on OpenVINO."""

from __future__ import annotations

import dataclasses

import pytest

from edge_bml.backends import is_available
from edge_bml.errors import ModelNotFoundError
from edge_bml.manifest import ModelManifest
from edge_bml.model_registry import select_variant


def variant_for(task: str, backend: str, precision: str, threads: int) -> ModelManifest:
    """``select_variant``'s pick; skips where the backend or the variant is missing.

    OpenVINO reads ``.onnx`` directly, so where a task has an INT8 OpenVINO variant but no FP32 one,
    its FP32 ONNX file runs on OpenVINO: INT8 and FP32 are then compared on the same runtime, as the
    quantizer's validator does.
    """
    if not is_available(backend):
        pytest.skip(f"{backend} is not installed")
    try:
        return select_variant(task, backend=backend, precision=precision, threads=threads)
    except ModelNotFoundError as error:
        if backend == "openvino" and precision == "fp32":
            try:
                onnx = select_variant(task, backend="onnxruntime", precision="fp32", threads=threads)
            except ModelNotFoundError:
                pytest.skip(str(error))
            return dataclasses.replace(onnx, format="openvino")
        pytest.skip(str(error))
