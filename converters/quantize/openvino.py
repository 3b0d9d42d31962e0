"""INT8 OpenVINO IR: ``openvino.convert_model`` then NNCF post-training quantization, saved as ``.xml``/``.bin``.

A float ``.tflite`` source first goes through ``tflite_surgery.float32_with_signature``: OpenVINO
reads MediaPipe's FP16 weights as FP16 constants with a Convert, which NNCF leaves as they are, so
the IR would keep FP16 weights beside the INT8 ones; plain FP32 weights are compressed to INT8.

Settings measured on BlazePose on this CPU (AVX2, no VNNI; 30 CCP val photos, FP32 detector):
NNCF's default overflow fix (first layer only) left the landmark model at 6.4% of torso length
from FP32; ``overflow_fix=enable`` (7-bit weights everywhere, the twin of ONNX Runtime's
``reduce_range``, against the u8 x s8 saturation of CPUs without VNNI) brought it to 3.2%, and
keeping the layers on maps of 8 x 8 or smaller in float (``KeepFloat(max_size=8)``) to 1.5%.
The ``performance`` preset (symmetric activations) measured as good as or better than ``mixed``.
"""

from __future__ import annotations

import logging
import re
import tempfile
from pathlib import Path

import numpy as np

from converters.quantize.output import ALL_INT8, KeepFloat, QuantizedOutput


def quantize_openvino(
    source: Path,
    out_dir: Path,
    stem: str,
    calibration: list[np.ndarray],
    *,
    keep_float: KeepFloat = ALL_INT8,
    preset: str = "performance",
    overflow_fix: str = "enable",
) -> QuantizedOutput:
    """Quantize ``source`` (.onnx or .tflite, FP32) to an INT8 IR ``out_dir/stem.xml``.

    ``keep_float`` names the nodes that stay in float (NNCF ignored scope): patterns on node
    names (see ``matching_nodes``), and ``max_size`` for convolutions on small maps and flat heads.
    ``preset`` is NNCF's: ``performance`` (symmetric activations; measured better on BlazePose) or
    ``mixed`` (asymmetric activations).

    Raises:
        nncf/OpenVINO errors as they come: the model cannot be read or quantized.
    """
    import nncf
    import openvino as ov
    from nncf.quantization.advanced_parameters import AdvancedQuantizationParameters, OverflowFix

    from converters.quantize.tflite_surgery import float32_with_signature

    nncf.set_log_level(logging.WARNING)  # its INFO lists every node kept float
    with tempfile.TemporaryDirectory() as tmp:
        readable = source
        surgery = None
        if source.suffix == ".tflite":
            readable = Path(tmp) / source.name
            surgery = float32_with_signature(source, readable)
        model = ov.convert_model(str(readable))
    kept = matching_nodes(model, keep_float.patterns) + small_nodes(model, keep_float)
    ignored = nncf.IgnoredScope(names=kept, validate=False)
    quantized = nncf.quantize(
        model,
        nncf.Dataset(calibration),
        subset_size=len(calibration),
        preset=nncf.QuantizationPreset(preset),
        ignored_scope=ignored,
        advanced_parameters=AdvancedQuantizationParameters(overflow_fix=OverflowFix(overflow_fix)),
    )
    files = [f"{stem}.xml", f"{stem}.bin"]
    stored_fp16 = store_float_weights_as_fp16(quantized)
    ov.save_model(quantized, str(out_dir / files[0]), compress_to_fp16=False)
    settings = {
        "tool": f"nncf {nncf.__version__}, openvino {ov.__version__}",
        "preset": preset,
        "overflow_fix": overflow_fix,
        "calibration_samples": len(calibration),
        "weights": "int8 symmetric per-channel; layers kept float store FP16 weights",
        "float_weight_tensors_stored_fp16": stored_fp16,
        "keep_float": keep_float.describe(),
        "nodes_kept_float": len(kept),
    }
    if surgery is not None:
        settings["tflite_surgery"] = surgery
    route = "openvino.convert_model" + (" (of the FP32-folded .tflite)" if surgery else "") + " + nncf.quantize"
    return QuantizedOutput(model_file=files[0], files=files, route=route, settings=settings)


def store_float_weights_as_fp16(model, *, min_elements: int = 1024) -> int:
    """Store the FP32 weight constants left by the layers kept float as FP16 + Convert; returns how many.

    ``save_model(compress_to_fp16=True)`` leaves an NNCF-quantized model's float constants as they are
    (measured: the landmark IR stayed 11.2 MB), so this is done by hand. OpenVINO folds the Convert at
    load and computes in FP32. For MediaPipe's models it is exact: their weights were FP16 to begin with.
    """
    import numpy as np
    import openvino as ov
    from openvino import opset13

    done = 0
    for op in model.get_ordered_ops():
        if op.get_type_name() != "Constant" or op.get_output_element_type(0) != ov.Type.f32:
            continue
        if int(np.prod(list(op.get_output_shape(0)), dtype=np.int64)) < min_elements:
            continue
        half = opset13.convert(opset13.constant(op.get_data().astype(np.float16), ov.Type.f16), ov.Type.f32)
        for target in list(op.output(0).get_target_inputs()):
            target.replace_source_output(half.output(0))
        done += 1
    return done


def small_nodes(model, keep_float: KeepFloat) -> list[str]:
    """Nodes whose output map ``keep_float.max_size`` keeps float, and the flat (not 4-D) ones after them.

    OpenVINO's graph of a .tflite mixes NCHW and NHWC tensors; a 4-D output counts as small when
    either reading (dims 1-2 or dims 2-3) is, which misreads only maps with fewer channels than rows.
    """
    if keep_float.max_size is None:
        return []
    found, seen_small = [], False
    for op in model.get_ordered_ops():
        if op.get_type_name() in ("Parameter", "Result", "Constant") or not op.get_output_partial_shape(0).is_static:
            continue
        shape = list(op.get_output_shape(0))
        small = len(shape) == 4 and (keep_float.small(shape[1], shape[2]) or keep_float.small(shape[2], shape[3]))
        seen_small = seen_small or small
        if small or (len(shape) != 4 and seen_small):
            found.append(op.get_friendly_name())
    return found


def matching_nodes(model, patterns: tuple[str, ...]) -> list[str]:
    """Friendly names of the nodes that ``patterns`` (regular expressions) name.

    A node matches by its friendly name or its output tensor names. OpenVINO's frontends leave many
    nodes (a convolution, its bias Add) without tensor names; such a node is named by the tensor it
    feeds alone, so that a pattern naming a layer of the source (``regressor_person``) keeps the
    whole layer in float.
    """
    if not patterns:
        return []
    inherited: dict[str, set[str]] = {}
    for op in reversed(model.get_ordered_ops()):
        names = {n for output in op.outputs() for n in output.get_names()}
        consumers = [i.get_node() for output in op.outputs() for i in output.get_target_inputs()]
        if not names and len(consumers) == 1:
            names = inherited.get(consumers[0].get_friendly_name(), set())
        inherited[op.get_friendly_name()] = names
    matched = []
    for op in model.get_ordered_ops():
        if op.get_type_name() in ("Parameter", "Result", "Constant"):
            continue
        candidates = {op.get_friendly_name()} | inherited[op.get_friendly_name()]
        if any(re.search(p, name) for p in patterns for name in candidates):
            matched.append(op.get_friendly_name())
    return matched
