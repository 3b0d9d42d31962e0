"""Builds real (tiny) ONNX models in the YOLOv8 detection layout whose output is known in advance.

The model ignores its pixels (adds 0 x their mean) and returns a fixed ``[1, 4 + C, N]`` tensor,
so tests know exactly which boxes the decoder must produce.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def constant_yolo_onnx(path: Path, output: np.ndarray, *, width: int, height: int) -> Path:
    """Write an ONNX model with input ``images`` [1, 3, height, width] returning ``output`` [1, 4 + C, N]."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    output = np.asarray(output, np.float32)
    nodes = [
        helper.make_node("ReduceMean", ["images"], ["mean"], axes=[1, 2, 3], keepdims=0),
        helper.make_node("Mul", ["mean", "zero"], ["nothing"]),
        helper.make_node("Add", ["table", "nothing"], ["output0"]),
    ]
    graph = helper.make_graph(
        nodes,
        "constant_yolo",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, height, width])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, list(output.shape))],
        initializer=[
            numpy_helper.from_array(output, "table"),
            numpy_helper.from_array(np.zeros(1, np.float32), "zero"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def yolo_table(boxes_xyxy, class_scores) -> np.ndarray:
    """A ``[1, 4 + C, N]`` table from N xyxy boxes (input pixels) and an (N, C) score array."""
    boxes = np.asarray(boxes_xyxy, np.float32).reshape(-1, 4)
    scores = np.asarray(class_scores, np.float32).reshape(len(boxes), -1)
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2
    size = boxes[:, 2:] - boxes[:, :2]
    return np.concatenate([centre, size, scores], 1).T[None].astype(np.float32)
