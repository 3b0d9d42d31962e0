"""Flatbuffer surgery on float ``.tflite`` files, so that quantizers can read them.

MediaPipe's BlazePose files store weights as FP16 (``DEQUANTIZE`` ops at run time) and, in the
detector, as sparse tensors (``DENSIFY`` ops), and carry no SignatureDef. ai-edge-quantizer
calibrates through a signature and needs constant FP32 weights, and NNCF only compresses FP32
constants to INT8. ``float32_with_signature`` rewrites such a file: every ``DEQUANTIZE``/``DENSIFY``
op whose inputs are constants is evaluated once (by LiteRT's reference kernels) and replaced by
its FP32 result, dead tensors and buffers are dropped, and a ``serving_default`` signature naming
the subgraph's inputs and outputs is added. The arithmetic is unchanged: outputs match the source
to float rounding.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edge_bml.errors import EdgeBmlError

SIGNATURE_KEY = "serving_default"


class TfliteSurgeryError(EdgeBmlError):
    """A ``.tflite`` file has a structure the surgery does not handle."""


def _name(tensor) -> str:
    name = tensor.name
    return name.decode() if isinstance(name, bytes) else str(name)


def _fold_constant_ops(model, data: bytes) -> int:
    """Replace DEQUANTIZE/DENSIFY ops on constants by constant buffers; returns how many were folded."""
    from ai_edge_litert import schema_py_generated as schema
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    fold = {schema.BuiltinOperator.DEQUANTIZE, schema.BuiltinOperator.DENSIFY}
    graph = model.subgraphs[0]

    def opcode(op) -> int:
        code = model.operatorCodes[op.opcodeIndex]
        return max(code.builtinCode, code.deprecatedBuiltinCode)

    def is_constant(index: int) -> bool:
        buffer = model.buffers[graph.tensors[index].buffer]
        return buffer.data is not None and len(buffer.data) > 0

    candidates = [op for op in graph.operators if opcode(op) in fold]
    if not candidates:
        return 0
    interpreter = Interpreter(
        model_content=bytes(data),
        experimental_preserve_all_tensors=True,
        experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
    )
    interpreter.allocate_tensors()
    for detail in interpreter.get_input_details():
        interpreter.set_tensor(detail["index"], np.zeros(detail["shape"], detail["dtype"]))
    interpreter.invoke()
    kept, folded = [], 0
    for op in graph.operators:  # operators are in execution order: a DENSIFY's output is constant by its DEQUANTIZE
        if opcode(op) in fold and all(i < 0 or is_constant(i) for i in op.inputs):
            value = np.ascontiguousarray(interpreter.get_tensor(op.outputs[0]))
            buffer = schema.BufferT()
            buffer.data = np.frombuffer(value.tobytes(), np.uint8).copy()
            model.buffers.append(buffer)
            graph.tensors[op.outputs[0]].buffer = len(model.buffers) - 1
            folded += 1
        else:
            kept.append(op)
    graph.operators = kept
    return folded


def _drop_dead_tensors(model) -> None:
    """Keep only tensors that ops or the graph's inputs/outputs use, and only the buffers they (or metadata) use."""
    graph = model.subgraphs[0]
    used = {i for op in graph.operators for i in list(op.inputs) + list(op.outputs) if i >= 0}
    used = sorted(used | set(graph.inputs) | set(graph.outputs))
    remap = {old: new for new, old in enumerate(used)}
    graph.tensors = [graph.tensors[i] for i in used]
    for op in graph.operators:
        op.inputs = [remap[i] if i >= 0 else -1 for i in op.inputs]
        op.outputs = [remap[i] for i in op.outputs]
        if op.intermediates is not None and len(op.intermediates):
            op.intermediates = [remap[i] for i in op.intermediates]
    graph.inputs = [remap[i] for i in graph.inputs]
    graph.outputs = [remap[i] for i in graph.outputs]
    for signature in model.signatureDefs or []:
        for tensor_map in list(signature.inputs or []) + list(signature.outputs or []):
            tensor_map.tensorIndex = remap[tensor_map.tensorIndex]
    buffers = [model.buffers[0]]  # buffer 0 is the empty sentinel
    for tensor in graph.tensors:
        if tensor.buffer:
            buffers.append(model.buffers[tensor.buffer])
            tensor.buffer = len(buffers) - 1
    for metadata in model.metadata or []:
        buffers.append(model.buffers[metadata.buffer])
        metadata.buffer = len(buffers) - 1
    model.buffers = buffers


def _add_signature(model) -> None:
    from ai_edge_litert import schema_py_generated as schema

    graph = model.subgraphs[0]

    def tensor_map(index: int):
        entry = schema.TensorMapT()
        entry.name = _name(graph.tensors[index])
        entry.tensorIndex = index
        return entry

    signature = schema.SignatureDefT()
    signature.signatureKey = SIGNATURE_KEY
    signature.subgraphIndex = 0
    signature.inputs = [tensor_map(i) for i in graph.inputs]
    signature.outputs = [tensor_map(i) for i in graph.outputs]
    model.signatureDefs = [signature]


def float32_with_signature(source: str | Path, target: str | Path) -> dict:
    """Write ``source`` as a plain FP32 ``.tflite`` with a ``serving_default`` signature to ``target``.

    Returns what was done: ``{"folded_ops": n, "signature_added": bool}``.

    Raises:
        TfliteSurgeryError: the model has more than one subgraph, or signatures that do not cover subgraph 0.
    """
    from ai_edge_litert.tools import flatbuffer_utils

    data = Path(source).read_bytes()
    model = flatbuffer_utils.read_model_from_bytearray(bytearray(data))
    if len(model.subgraphs) != 1:
        raise TfliteSurgeryError(f"{source}: {len(model.subgraphs)} subgraphs; only single-graph models are handled")
    folded = _fold_constant_ops(model, data)
    signature_added = not model.signatureDefs
    if signature_added:
        _add_signature(model)
    _drop_dead_tensors(model)
    flatbuffer_utils.write_model(model, str(target))
    return {"folded_ops": folded, "signature_added": signature_added}


def signature_inputs(path: str | Path) -> tuple[str, list[str]]:
    """The first signature's key and its input names, as the quantizer's calibration wants them.

    Raises:
        TfliteSurgeryError: the model has no signature.
    """
    from ai_edge_litert.interpreter import Interpreter

    signatures = Interpreter(model_path=str(path)).get_signature_list()
    if not signatures:
        raise TfliteSurgeryError(f"{path} has no SignatureDef; run float32_with_signature on it first")
    key = next(iter(signatures))
    return key, list(signatures[key]["inputs"])


def restore_io_names(path: str | Path, inputs: list[str], outputs: list[str]) -> dict[str, str]:
    """Give the graph's inputs and outputs back the names of the float model (in order), in place.

    A quantizer that keeps float I/O adds QUANTIZE/DEQUANTIZE ops whose tensors get new names
    (``Identity_dequant``); the manifest's output roles name the float model's tensors. The inner
    tensor that had the name gets ``_int8`` appended. Returns the renames done.

    Raises:
        TfliteSurgeryError: the graph has another number of inputs or outputs.
    """
    from ai_edge_litert.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model(str(path))
    graph = model.subgraphs[0]
    if len(graph.inputs) != len(inputs) or len(graph.outputs) != len(outputs):
        raise TfliteSurgeryError(f"{path}: inputs/outputs differ from the float model's {inputs} / {outputs}")
    renamed = {}
    for index, wanted in list(zip(graph.inputs, inputs)) + list(zip(graph.outputs, outputs)):
        current = _name(graph.tensors[index])
        if current == wanted:
            continue
        for other in graph.tensors:
            if _name(other) == wanted:
                other.name = f"{wanted}_int8"
        graph.tensors[index].name = wanted
        renamed[current] = wanted
    for signature in model.signatureDefs or []:
        for tensor_map in list(signature.inputs or []) + list(signature.outputs or []):
            tensor_map.name = _name(graph.tensors[tensor_map.tensorIndex])
    flatbuffer_utils.write_model(model, str(path))
    return renamed
