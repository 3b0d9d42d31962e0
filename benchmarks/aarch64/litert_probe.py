"""What LiteRT does with each TFLite variant on this machine: the ops, which of them XNNPACK took, in what types.

Opens every ``*_tflite`` variant under the models folder the way ``edge_bml.backends.litert_backend`` does
(1 thread, XNNPACK's "latest features" off), lists the graph's ops and works out which nodes each XNNPACK
``DELEGATE`` node replaced (walking back from the delegate node's outputs to its inputs), with the operand
types of those nodes: an INT8 variant whose CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED nodes sit inside
the delegate with int8 operands runs on XNNPACK's QS8 kernels. Also runs each model once on a fixed
pseudo-random input and saves the raw outputs (``--outputs DIR``), so that two machines can be compared
tensor by tensor. Invoke times are recorded but mean nothing under emulation.

Usage: python litert_probe.py MODELS_DIR --out probe.json [--outputs DIR] [--precision int8]
"""

from __future__ import annotations

import argparse
import collections
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np


def _interpreter(path: Path):
    from ai_edge_litert.interpreter import Interpreter

    return Interpreter(model_path=str(path), num_threads=1, experimental_default_delegate_latest_features=False)


def _type_name(value) -> str:
    return np.dtype(value).name


def _delegated_nodes(ops: list[dict]) -> tuple[set[int], list[dict]]:
    """The original node indices replaced by DELEGATE nodes, and one summary per DELEGATE node."""
    producer: dict[int, int] = {}
    for op in ops:
        if op["op_name"] == "DELEGATE":
            continue
        for tensor in op["outputs"]:
            producer[int(tensor)] = op["index"]
    taken: set[int] = set()
    partitions = []
    for op in ops:
        if op["op_name"] != "DELEGATE":
            continue
        boundary = {int(t) for t in op["inputs"]}
        stack = [int(t) for t in op["outputs"]]
        nodes: set[int] = set()
        seen: set[int] = set()
        while stack:
            tensor = stack.pop()
            if tensor in seen or tensor in boundary or tensor not in producer:
                continue
            seen.add(tensor)
            node = producer[tensor]
            if node not in nodes:
                nodes.add(node)
                stack.extend(int(t) for t in ops[node]["inputs"] if int(t) >= 0)
        taken |= nodes
        partitions.append({"delegate_node": op["index"], "nodes": len(nodes)})
    return taken, partitions


def probe(path: Path, outputs_dir: Path | None, name: str) -> dict:
    interpreter = _interpreter(path)
    interpreter.allocate_tensors()
    ops = interpreter._get_ops_details()
    taken, partitions = _delegated_nodes(ops)
    original = [op for op in ops if op["op_name"] != "DELEGATE"]
    delegated_types: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    not_delegated = []
    for op in original:
        types = "/".join(sorted({_type_name(t) for t in op["operand_types"]}))
        if op["index"] in taken:
            delegated_types[op["op_name"]][types] += 1
        else:
            not_delegated.append({"index": op["index"], "op": op["op_name"], "operand_types": types})
    heavy = [op for op in original if op["op_name"] in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")]
    heavy_int8_delegated = [
        op
        for op in heavy
        if op["index"] in taken and any(_type_name(t) in ("int8", "uint8") for t in op["operand_types"][:2])
    ]
    rng = np.random.default_rng(0)
    feeds = {}
    for detail in interpreter.get_input_details():
        dtype = np.dtype(detail["dtype"])
        if dtype.kind == "f":
            value = rng.uniform(-1.0, 1.0, size=detail["shape"]).astype(dtype)
        else:
            info = np.iinfo(dtype)
            value = rng.integers(info.min, info.max, size=detail["shape"], endpoint=True).astype(dtype)
        feeds[detail["index"]] = value
        interpreter.set_tensor(detail["index"], value)
    start = time.perf_counter()
    interpreter.invoke()
    invoke_ms = (time.perf_counter() - start) * 1000.0
    outputs = {d["name"]: interpreter.get_tensor(d["index"]).copy() for d in interpreter.get_output_details()}
    if outputs_dir is not None:
        outputs_dir.mkdir(parents=True, exist_ok=True)
        np.savez(outputs_dir / f"{name}.npz", **{f"out{i}": v for i, v in enumerate(outputs.values())})
    return {
        "file": path.name,
        "ops": dict(collections.Counter(op["op_name"] for op in original)),
        "nodes": len(original),
        "nodes_delegated_to_xnnpack": len(taken),
        "xnnpack_partitions": partitions,
        "delegated_op_types": {op: dict(types) for op, types in sorted(delegated_types.items())},
        "not_delegated": not_delegated,
        "conv_fc_nodes": len(heavy),
        "conv_fc_nodes_int8_on_xnnpack": len(heavy_int8_delegated),
        "input_types": [_type_name(d["dtype"]) for d in interpreter.get_input_details()],
        "output_types": {name: v.dtype.name for name, v in outputs.items()},
        "invoke_ms_first_run": round(invoke_ms, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", type=Path, help="the quantized_models folder")
    parser.add_argument("--out", type=Path, required=True, help="JSON report")
    parser.add_argument("--outputs", type=Path, help="folder for each model's raw outputs (.npz)")
    parser.add_argument("--precision", default="int8", help="variants whose folder name has _PRECISION_ (all: any)")
    args = parser.parse_args(argv)
    import ai_edge_litert

    report = {
        "machine": platform.machine(),
        "python": platform.python_version(),
        "ai_edge_litert": getattr(ai_edge_litert, "__version__", None),
        "variants": {},
    }
    for folder in sorted(args.models.glob("*_tflite")):
        if args.precision != "all" and f"_{args.precision}_" not in folder.name + "_":
            continue
        for model in sorted(folder.glob("*.tflite")):
            print(f"probe: {folder.name}/{model.name}", file=sys.stderr, flush=True)
            report["variants"][folder.name] = probe(model, args.outputs, folder.name)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
