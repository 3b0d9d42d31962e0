"""In which precision OpenVINO's CPU plugin runs each INT8 variant's convolutions on this machine.

Compiles every ``*_int8_openvino`` variant as ``edge_bml.backends.openvino_backend`` does (LATENCY, 1 thread,
INFERENCE_PRECISION_HINT f32) and counts, in the compiled (runtime) model, the convolution / matrix layers
by ``runtimePrecision`` and ``primitiveType`` (the kernel): on x86 with VNNI most convolutions run as u8
(``*_I8`` kernels); layers shown as f32 run in float, the quantize/dequantize steps around them emulated.

Usage: python openvino_probe.py MODELS_DIR --out openvino_probe.json
"""

from __future__ import annotations

import argparse
import collections
import json
import platform
from pathlib import Path


def probe(path: Path) -> dict:
    import openvino as ov

    core = ov.Core()
    config = {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": "f32", "INFERENCE_NUM_THREADS": 1}
    compiled = core.compile_model(core.read_model(str(path)), "CPU", config)
    counts: collections.Counter = collections.Counter()
    for op in compiled.get_runtime_model().get_ordered_ops():
        info = op.get_rt_info()
        layer, precision, kernel = (
            info[key].astype(str) if key in info else "?" for key in ("layerType", "runtimePrecision", "primitiveType")
        )
        if layer in ("Convolution", "GroupConvolution", "FullyConnected", "MatMul", "Deconvolution"):
            counts[f"{layer} {precision} {kernel}"] += 1
    return {"file": path.name, "conv_fc_layers": dict(sorted(counts.items()))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    import openvino as ov

    report = {"machine": platform.machine(), "openvino": ov.get_version(), "variants": {}}
    for folder in sorted(args.models.glob("*_int8_openvino")):
        for xml in sorted(folder.glob("*.xml")):
            report["variants"][folder.name] = probe(xml)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
