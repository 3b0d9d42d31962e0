"""INT8 ONNX for ONNX Runtime: static QDQ quantization with per-channel INT8 weights.

The activation type and ``reduce_range`` are chosen by measurement on this CPU, not by default:
on x86 without VNNI the u8 x s8 kernels can saturate their 16-bit intermediate sums, which the
7-bit weights of ``reduce_range`` avoid. Each candidate is quantized, compared with FP32 on a few
calibration inputs (centred cosine of every output) and timed on one thread; the fastest candidate
whose worst output keeps a cosine of at least ``min_cosine`` wins (else the most accurate one).
Every candidate's figures go into the manifest.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from converters.quantize.output import ALL_INT8, KeepFloat, QuantizedOutput
from converters.quantize.validator import centred_cosine

CANDIDATES = {
    "u8s8": {"activation_type": "QUInt8", "reduce_range": False},
    "u8s8_reduce_range": {"activation_type": "QUInt8", "reduce_range": True},
    "s8s8": {"activation_type": "QInt8", "reduce_range": False},
}


class _Reader:
    """ONNX Runtime's CalibrationDataReader protocol over a list of inputs."""

    def __init__(self, input_name: str, tensors: list[np.ndarray]) -> None:
        self._feeds = iter([{input_name: t} for t in tensors])

    def get_next(self) -> dict | None:
        return next(self._feeds, None)


def _session(path: Path, threads: int = 1):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])


def _probe(float_path: Path, int8_path: Path, inputs: list[np.ndarray], runs: int) -> dict:
    reference, candidate = _session(float_path), _session(int8_path)
    name = reference.get_inputs()[0].name
    expected, got = [], []
    for tensor in inputs:
        expected.append(reference.run(None, {name: tensor}))
        got.append(candidate.run(None, {name: tensor}))
    # Per output, over all inputs stacked (one-value outputs have no per-input cosine).
    worst = min(
        centred_cosine(np.stack([e[i] for e in expected]), np.stack([g[i] for g in got]))
        for i in range(len(expected[0]))
    )
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        candidate.run(None, {name: inputs[0]})
        times.append((time.perf_counter() - start) * 1000.0)
    return {
        "worst_output_centred_cosine": round(float(worst), 5),
        "latency_ms_threads_1": round(float(np.median(times)), 3),
    }


def quantize_onnx(
    source: Path,
    out_dir: Path,
    stem: str,
    calibration: list[np.ndarray],
    *,
    keep_float: KeepFloat = ALL_INT8,
    candidates: tuple[str, ...] = tuple(CANDIDATES),
    min_cosine: float = 0.99,
    probe_count: int = 8,
    probe_runs: int = 20,
) -> QuantizedOutput:
    """Quantize the FP32 ``source`` (.onnx) to ``out_dir/stem.onnx``, settings chosen by measurement.

    ``keep_float`` names the nodes excluded from quantization: patterns on node names, and
    ``max_size`` for Conv/Gemm/MatMul nodes on small (NCHW) maps and flat heads.

    Raises:
        ValueError: an unknown candidate name, or a model with more than one input;
        onnxruntime errors as they come.
    """
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    unknown = set(candidates) - set(CANDIDATES)
    if unknown:
        raise ValueError(f"unknown ONNX quantization candidates {sorted(unknown)}; choose from {sorted(CANDIDATES)}")
    model_file = f"{stem}.onnx"
    with tempfile.TemporaryDirectory() as tmp:
        prepared = Path(tmp) / "prepared.onnx"
        try:
            quant_pre_process(str(source), str(prepared), skip_symbolic_shape=True)
        except Exception:  # pre-processing is an optimisation; quantize the source as it is if it fails
            shutil.copyfile(source, prepared)
        graph = onnx.shape_inference.infer_shapes(onnx.load(str(prepared))).graph
        inputs = [i.name for i in graph.input if i.name not in {init.name for init in graph.initializer}]
        if len(inputs) != 1:
            raise ValueError(f"{source}: {len(inputs)} inputs; only single-input models are handled")
        excluded = [n.name for n in graph.node if any(re.search(p, n.name) for p in keep_float.patterns)]
        excluded += [n for n in _small_nodes(graph, keep_float) if n not in excluded]
        measured = {}
        for name in candidates:
            options = CANDIDATES[name]
            path = Path(tmp) / f"{name}.onnx"
            quantize_static(
                str(prepared),
                str(path),
                _Reader(inputs[0], calibration),
                quant_format=QuantFormat.QDQ,
                per_channel=True,
                reduce_range=options["reduce_range"],
                activation_type=getattr(QuantType, options["activation_type"]),
                weight_type=QuantType.QInt8,
                calibrate_method=CalibrationMethod.MinMax,
                nodes_to_exclude=excluded,
            )
            measured[name] = _probe(prepared, path, calibration[:probe_count], probe_runs)
        good = [n for n in candidates if measured[n]["worst_output_centred_cosine"] >= min_cosine]
        if good:
            chosen = min(good, key=lambda n: measured[n]["latency_ms_threads_1"])
        else:
            chosen = max(candidates, key=lambda n: measured[n]["worst_output_centred_cosine"])
        shutil.copyfile(Path(tmp) / f"{chosen}.onnx", out_dir / model_file)
    settings = {
        "tool": f"onnxruntime.quantization {_ort_version()}",
        "format": "QDQ",
        "per_channel": True,
        "weight_type": "QInt8",
        **CANDIDATES[chosen],
        "calibrate_method": "MinMax",
        "calibration_samples": len(calibration),
        "keep_float": keep_float.describe(),
        "nodes_excluded": excluded,
        "chosen": chosen,
        "chosen_by": f"fastest candidate whose worst output centred cosine >= {min_cosine} on "
        f"{min(probe_count, len(calibration))} calibration inputs, else the most accurate",
        "candidates_measured": measured,
    }
    return QuantizedOutput(
        model_file=model_file, files=[model_file], route="onnxruntime quantize_static (QDQ)", settings=settings
    )


def _small_nodes(graph, keep_float: KeepFloat) -> list[str]:
    """Conv/Gemm/MatMul nodes whose (NCHW) output map ``keep_float.max_size`` keeps float, and flat ones."""
    if keep_float.max_size is None:
        return []
    shapes = {
        info.name: [d.dim_value for d in info.type.tensor_type.shape.dim]
        for info in list(graph.value_info) + list(graph.output)
    }
    found = []
    for node in graph.node:
        shape = shapes.get(node.output[0])
        if node.op_type in ("Conv", "Gemm", "MatMul") and shape:
            if len(shape) != 4 or keep_float.small(shape[2], shape[3]):
                found.append(node.name)
    return found


def _ort_version() -> str:
    import onnxruntime

    return onnxruntime.__version__
