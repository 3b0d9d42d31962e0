"""INT8 LiteRT ``.tflite`` from a float ``.tflite``: ai-edge-quantizer, static INT8 weights and activations.

Route: ``tflite_surgery.float32_with_signature`` first (MediaPipe files have FP16/sparse weights
behind DEQUANTIZE/DENSIFY ops and no SignatureDef, on which the quantizer's calibration fails with
``Invalid signature_key provided``), then the quantizer's ``static_wi8_ai8`` recipe: weights INT8
symmetric per channel, activations INT8 asymmetric per tensor, float input and output tensors.
No TensorFlow is needed. PyTorch sources (litert-torch) are not handled here.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import numpy as np

from converters.quantize.output import ALL_INT8, KeepFloat, QuantizedOutput


def quantize_tflite(
    source: Path,
    out_dir: Path,
    stem: str,
    calibration: list[np.ndarray],
    *,
    keep_float: KeepFloat = ALL_INT8,
) -> QuantizedOutput:
    """Quantize the float ``.tflite`` ``source`` to ``out_dir/stem.tflite``.

    ``keep_float`` names the ops that stay in float: patterns are searched in each op's scope (its
    output tensor names, each followed by ``;``), and ``max_size`` keeps low-resolution ops float.

    Raises:
        TfliteSurgeryError: the source has a structure the surgery does not handle;
        ValueError: the quantizer rejects the model or the calibration data.
    """
    from ai_edge_litert.interpreter import Interpreter
    from ai_edge_quantizer import quantizer, recipe

    from converters.quantize.tflite_surgery import float32_with_signature, restore_io_names, signature_inputs

    model_recipe = recipe.static_wi8_ai8()
    # Float input and outputs: the graph's virtual INPUT/OUTPUT ops stay float, so the quantizer adds
    # QUANTIZE/DEQUANTIZE ops at the edges instead of retyping the graph's own tensors to int8.
    for operation in ("INPUT", "OUTPUT"):
        model_recipe.append({"regex": ".*", "operation": operation, "algorithm_key": "no_quantize"})
    with tempfile.TemporaryDirectory() as tmp:
        float_model = Path(tmp) / source.name
        surgery = float32_with_signature(source, float_model)
        key, input_names = signature_inputs(float_model)
        if len(input_names) != 1:
            raise ValueError(f"{source}: {len(input_names)} inputs; only single-input models are handled")
        kept = _float_scopes(float_model, keep_float)
        for pattern in list(keep_float.patterns) + [f"^{re.escape(scope)}$" for scope in kept]:
            model_recipe += _float_entries(pattern)
        engine = quantizer.Quantizer(str(float_model), model_recipe)
        calibration_result = engine.calibrate({key: [{input_names[0]: t} for t in calibration]}, num_threads=2)
        result = engine.quantize(calibration_result, enable_progress_bar=False, enable_progress_report=False)
        model_file = f"{stem}.tflite"
        result.export_model(str(out_dir / model_file), overwrite=True)
        float_graph = Interpreter(model_path=str(float_model))  # details come in graph order
        renamed = restore_io_names(
            out_dir / model_file,
            [d["name"] for d in float_graph.get_input_details()],
            [d["name"] for d in float_graph.get_output_details()],
        )
    (out_dir / model_file).chmod(0o644)
    settings = {
        "tool": f"ai-edge-quantizer {_version('ai-edge-quantizer')}, ai-edge-litert {_version('ai-edge-litert')}",
        "recipe": "static_wi8_ai8: weights int8 symmetric per-channel, activations int8 asymmetric per-tensor; "
        "ops kept float: float_casting (FP16 weights, float compute)",
        "io": "float32 input and outputs",
        "calibration_samples": len(calibration),
        "keep_float": keep_float.describe(),
        "ops_kept_float_by_size": len(kept),
        "tflite_surgery": {**surgery, "io_tensors_renamed": renamed},
    }
    route = (
        "tflite_surgery.float32_with_signature (FP16/sparse weights folded to FP32, signature added) "
        "+ ai-edge-quantizer"
    )
    return QuantizedOutput(model_file=model_file, files=[model_file], route=route, settings=settings)


FP16_WEIGHTS = {
    "weight_tensor_config": {"num_bits": 16, "symmetric": True, "granularity": "TENSORWISE", "dtype": "FLOAT"},
    "compute_precision": "FLOAT",
    "explicit_dequantize": True,
}


def _float_entries(pattern: str) -> list[dict]:
    """Recipe entries keeping the ops of ``pattern`` float, their weights stored as FP16 (as MediaPipe ships them)."""
    entries = [{"regex": pattern, "operation": "*", "algorithm_key": "no_quantize"}]
    for operation in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
        entries.append(
            {"regex": pattern, "operation": operation, "algorithm_key": "float_casting", "op_config": FP16_WEIGHTS}
        )
    return entries


def _float_scopes(path: Path, keep_float: KeepFloat) -> list[str]:
    """Scopes (``name;``) of the ops that ``keep_float.max_size`` keeps float: small NHWC maps and flat heads."""
    if keep_float.max_size is None:
        return []
    from ai_edge_litert.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model(str(path))
    graph = model.subgraphs[0]
    scopes = []
    for op in graph.operators:
        shape = list(graph.tensors[op.outputs[0]].shape)
        if len(shape) != 4 or keep_float.small(shape[1], shape[2]):
            names = [graph.tensors[i].name for i in op.outputs]
            scopes.append("".join(f"{n.decode() if isinstance(n, bytes) else n};" for n in names))
    return scopes


def _version(distribution: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(distribution)
    except PackageNotFoundError:
        return "unknown"
