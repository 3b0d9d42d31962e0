"""Count the multiply-accumulates (MACs) of every model variant, and turn them into a Raspberry Pi 5 ESTIMATE.

MACs are counted from the graphs themselves: convolutions (regular, depthwise/grouped, transposed) and
matrix products (fully connected, MatMul, Gemm), at batch 1; elementwise ops, pooling and resizes are
left out (they are memory-bound and small next to the convolutions here).
- TFLite: the flatbuffer, parsed with ai_edge_litert's schema (``schema_py_generated``).
- ONNX: shapes from ``onnx.shape_inference`` (QDQ graphs: the weights' shapes through DequantizeLinear).
- OpenVINO IR: the ops and their static shapes from ``openvino.Core().read_model``.

The Pi 5 figures are a MODEL, NOT A MEASUREMENT: ms per GMAC taken from published Pi 5 (Cortex-A76,
4 cores, 2.4 GHz) FP32 latencies of YOLO11n/YOLO11s (Ultralytics' Raspberry Pi guide), times each model's
MACs, with an assumed INT8 speed-up. See ``estimate()`` for the figures and their sources.

Usage: python count_macs.py [MODELS_DIR] [--json OUT.json] [--articles N]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

# Published Raspberry Pi 5 latencies (ms per image, 640x640, FP32, default threads = 4 cores), from the
# Ultralytics Raspberry Pi guide (docs/en/guides/raspberry-pi.md, "Detailed Comparison Table"). FLOPs from
# Ultralytics' YOLO11 model table (6.5 G for YOLO11n, 21.5 G for YOLO11s); Ultralytics counts
# FLOPs = 2 x MACs, so GMAC = GFLOPs / 2.
PUBLISHED = {
    "YOLO11n": {
        "gflops": 6.5,
        "ms": {"OpenVINO": 81.192, "NCNN": 88.026, "ONNX Runtime": 168.082, "TF Lite": 317.398},
    },
    "YOLO11s": {
        "gflops": 21.5,
        "ms": {"OpenVINO": 179.324, "NCNN": 194.858, "ONNX Runtime": 324.17, "TF Lite": 849.86},
    },
}
SOURCE = "https://docs.ultralytics.com/guides/raspberry-pi/ (Detailed Comparison Table, Raspberry Pi 5)"
# Assumed, not measured: INT8 (XNNPACK QS8 with the A76's SDOT) against FP32 on the same CPU.
INT8_SPEEDUP = {"low": 1.0, "central": 1.5, "high": 2.0}


def _prod(values) -> int:
    return int(math.prod(int(v) if int(v) > 0 else 1 for v in values))


def tflite_macs(path: Path) -> dict:
    from ai_edge_litert import schema_py_generated as schema

    model = schema.Model.GetRootAs(path.read_bytes(), 0)
    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    total = 0
    by_op: dict[str, int] = {}
    graph = model.Subgraphs(0)
    for index in range(graph.OperatorsLength()):
        op = graph.Operators(index)
        code = model.OperatorCodes(op.OpcodeIndex())
        builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
        name = names.get(builtin, str(builtin))

        def shape(tensor_index: int) -> list[int]:
            return [int(d) for d in graph.Tensors(tensor_index).ShapeAsNumpy()]

        inputs = list(op.InputsAsNumpy())
        outputs = list(op.OutputsAsNumpy())
        macs = 0
        if name == "CONV_2D":  # weights [Cout, kh, kw, Cin], output [N, H, W, Cout]
            cout, kh, kw, cin = shape(inputs[1])
            macs = _prod(shape(outputs[0])) * kh * kw * cin
        elif name == "DEPTHWISE_CONV_2D":  # weights [1, kh, kw, Cout]
            _, kh, kw, _ = shape(inputs[1])
            macs = _prod(shape(outputs[0])) * kh * kw
        elif name == "TRANSPOSE_CONV":  # inputs: output_shape, weights [Cout, kh, kw, Cin], input [N, H, W, Cin]
            cout, kh, kw, _ = shape(inputs[1])
            macs = _prod(shape(inputs[2])) * kh * kw * cout
        elif name == "FULLY_CONNECTED":  # weights [units, in]
            units, depth = shape(inputs[1])
            macs = _prod(shape(outputs[0])) * depth
        elif name == "BATCH_MATMUL":
            a = shape(inputs[0])
            macs = _prod(shape(outputs[0])) * a[-1]
        if macs:
            by_op[name] = by_op.get(name, 0) + macs
            total += macs
    return {"macs": total, "by_op": by_op}


def onnx_macs(path: Path) -> dict:
    import onnx

    model = onnx.shape_inference.infer_shapes(onnx.load(str(path)), strict_mode=False)
    graph = model.graph
    shapes: dict[str, list[int]] = {}
    for info in list(graph.value_info) + list(graph.input) + list(graph.output):
        dims = info.type.tensor_type.shape.dim
        shapes[info.name] = [d.dim_value if d.dim_value > 0 else 1 for d in dims]
    for init in graph.initializer:
        shapes[init.name] = list(init.dims)
    attrs = lambda node: {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}  # noqa: E731
    total = 0
    by_op: dict[str, int] = {}
    for node in graph.node:
        macs = 0
        if node.op_type in ("Conv", "QLinearConv", "ConvInteger"):
            w_index = 3 if node.op_type == "QLinearConv" else 1
            weight = shapes.get(node.input[w_index])
            out = shapes.get(node.output[0])
            if weight and out:
                macs = _prod(out) * _prod(weight[1:])  # out elems x Cin/group x kh x kw
        elif node.op_type == "ConvTranspose":
            weight, x = shapes.get(node.input[1]), shapes.get(node.input[0])
            if weight and x:  # weight [Cin, Cout/group, kh, kw]
                macs = _prod(x) * _prod(weight[1:])
        elif node.op_type in ("MatMul", "MatMulInteger", "QLinearMatMul", "Gemm"):
            a_index = 0
            a, out = shapes.get(node.input[a_index]), shapes.get(node.output[0])
            if a and out:
                k = a[-2] if node.op_type == "Gemm" and attrs(node).get("transA", 0) else a[-1]
                macs = _prod(out) * k
        if macs:
            by_op[node.op_type] = by_op.get(node.op_type, 0) + macs
            total += macs
    return {"macs": total, "by_op": by_op}


def openvino_macs(path: Path) -> dict:
    import openvino as ov

    model = ov.Core().read_model(str(path))

    def dims(port) -> list[int]:  # dynamic dimensions (the batch) count as 1
        return [d.get_length() if d.is_static else 1 for d in port.get_partial_shape()]

    total = 0
    by_op: dict[str, int] = {}
    for op in model.get_ordered_ops():
        kind = op.get_type_name()
        macs = 0
        try:
            if kind == "Convolution":  # weights [Cout, Cin, kh, kw]
                w = dims(op.input(1))
                macs = _prod(dims(op.output(0))) * _prod(w[1:])
            elif kind == "GroupConvolution":  # weights [G, Cout/G, Cin/G, kh, kw]
                w = dims(op.input(1))
                macs = _prod(dims(op.output(0))) * _prod(w[2:])
            elif kind == "MatMul":
                a = dims(op.input(0))
                k = a[-2] if op.get_attributes().get("transpose_a") else a[-1]
                macs = _prod(dims(op.output(0))) * k
        except Exception:  # noqa: BLE001 - dynamic shapes: skip the op
            macs = 0
        if macs:
            by_op[kind] = by_op.get(kind, 0) + macs
            total += macs
    return {"macs": total, "by_op": by_op}


def count_all(models: Path) -> dict[str, dict]:
    out = {}
    for manifest_path in sorted(models.glob("*/manifest.json")):
        manifest = json.loads(manifest_path.read_text())
        model_file = manifest_path.parent / manifest["model_file"]
        fmt = manifest.get("format")
        counter = {"tflite": tflite_macs, "onnx": onnx_macs, "openvino": openvino_macs}.get(fmt)
        if counter is None or not model_file.is_file():
            continue
        print(f"count: {manifest_path.parent.name}", file=sys.stderr, flush=True)
        result = counter(model_file)
        inp = manifest.get("input", {})
        out[manifest_path.parent.name] = {
            "task": manifest.get("task"),
            "format": fmt,
            "precision": manifest.get("precision"),
            "input": f"{inp.get('width')}x{inp.get('height')}",
            "gmacs": round(result["macs"] / 1e9, 4),
            "by_op_gmacs": {k: round(v / 1e9, 4) for k, v in sorted(result["by_op"].items())},
        }
    return out


def estimate(counts: dict[str, dict], articles: float) -> dict:
    """Pi 5 latency model: ms = GMAC x (ms per GMAC of a published Pi 5 FP32 figure) / INT8 speed-up."""
    rates = {
        f"{model} {runtime}": round(ms / (info["gflops"] / 2.0), 2)
        for model, info in PUBLISHED.items()
        for runtime, ms in info["ms"].items()
    }
    central = rates["YOLO11n OpenVINO"]  # the small model (ours are smaller still), the fastest runtime
    low, high = rates["YOLO11s OpenVINO"], rates["YOLO11n ONNX Runtime"]
    # One look at default options: pose detection once, pose landmarks twice (mirror average), the detector
    # once, the embedder once per article shown.
    per_look = {
        "pose_detection": ("blazepose_detection_int8_tflite", 1.0),
        "pose_landmarks": ("blazepose_landmarks_full_int8_tflite", 2.0),
        "detector": ("article_detector_int8_tflite", 1.0),
        "embedder": ("embedder_triplet_int8_tflite", float(articles)),
    }
    rows = []
    total = {"gmacs": 0.0, "fp32_ms": 0.0, "int8_ms": 0.0, "int8_ms_low": 0.0, "int8_ms_high": 0.0}
    for stage, (variant, times) in per_look.items():
        if variant not in counts:
            continue
        gmacs = counts[variant]["gmacs"] * times
        fp32 = gmacs * central
        row = {
            "stage": stage,
            "variant": variant,
            "runs_per_look": times,
            "gmacs_per_look": round(gmacs, 4),
            "fp32_ms_4_threads": round(fp32, 1),
            "int8_ms_4_threads": round(fp32 / INT8_SPEEDUP["central"], 1),
            "int8_ms_range": [
                round(gmacs * low / INT8_SPEEDUP["high"], 1),
                round(gmacs * high / INT8_SPEEDUP["low"], 1),
            ],
        }
        rows.append(row)
        total["gmacs"] += gmacs
        total["fp32_ms"] += fp32
        total["int8_ms"] += row["int8_ms_4_threads"]
        total["int8_ms_low"] += row["int8_ms_range"][0]
        total["int8_ms_high"] += row["int8_ms_range"][1]
    return {
        "kind": "ESTIMATE (a model, not a measurement): no Raspberry Pi was used",
        "device": "Raspberry Pi 5 (Broadcom BCM2712, 4x Cortex-A76 at 2.4 GHz), 4 threads",
        "method": (
            "ms = GMAC x ms-per-GMAC; ms-per-GMAC from published Pi 5 FP32 latencies of YOLO11n/YOLO11s "
            "(GMAC = GFLOPs/2); central rate YOLO11n OpenVINO, range YOLO11s OpenVINO .. YOLO11n ONNX Runtime; "
            f"INT8 assumed {INT8_SPEEDUP['central']}x faster than FP32 "
            f"(range {INT8_SPEEDUP['low']}x..{INT8_SPEEDUP['high']}x, "
            "not measured). MACs of convolutions and matrix products only. Small, depthwise-heavy models usually "
            "run fewer MACs per ms than YOLO, so the real figures may be higher; at 1 thread expect up to ~3-4x more."
        ),
        "source": SOURCE,
        "published_pi5_fp32": PUBLISHED,
        "ms_per_gmac": rates,
        "ms_per_gmac_used": {"central": central, "low": low, "high": high},
        "int8_speedup_assumed": INT8_SPEEDUP,
        "articles_per_look": articles,
        "stages": rows,
        "total": {k: round(v, 3 if k == "gmacs" else 1) for k, v in total.items()},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_models = Path(__file__).resolve().parents[2] / "quantized_models"
    parser.add_argument("models", type=Path, nargs="?", default=default_models)
    parser.add_argument("--json", type=Path, help="write counts and the estimate here")
    parser.add_argument("--articles", type=float, default=4.0, help="articles embedded per look (default 4)")
    args = parser.parse_args(argv)
    counts = count_all(args.models)
    result = {"gmacs_per_variant": counts, "estimate": estimate(counts, args.articles)}
    print(f"{'variant':42s} {'task':16s} {'input':>9s} {'GMAC':>8s}")
    for name, row in counts.items():
        print(f"{name:42s} {row['task']:16s} {row['input']:>9s} {row['gmacs']:8.4f}")
    est = result["estimate"]
    rate = est["ms_per_gmac_used"]["central"]
    print(f"\nRaspberry Pi 5 ESTIMATE ({rate} ms/GMAC FP32, 4 threads; a model, not a measurement)")
    print(f"{'stage':16s} {'runs':>5s} {'GMAC':>8s} {'FP32 ms':>8s} {'INT8 ms':>8s} {'INT8 range':>14s}")
    for row in est["stages"]:
        lo, hi = row["int8_ms_range"]
        print(
            f"{row['stage']:16s} {row['runs_per_look']:5.1f} {row['gmacs_per_look']:8.4f} "
            f"{row['fp32_ms_4_threads']:8.1f} {row['int8_ms_4_threads']:8.1f} {lo:6.1f}..{hi:6.1f}"
        )
    t = est["total"]
    print(
        f"{'look (models)':16s} {'':5s} {t['gmacs']:8.4f} {t['fp32_ms']:8.1f} {t['int8_ms']:8.1f} "
        f"{t['int8_ms_low']:6.1f}..{t['int8_ms_high']:6.1f}"
    )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
