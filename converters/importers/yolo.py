"""``edge-bml-convert import yolo MODEL.onnx``: plug a user's Ultralytics YOLO detector export into edge_bml.

Ultralytics' ONNX export of a YOLOv8/YOLO11 detector reads a 1x3xHxW RGB image scaled to 0..1
and returns ``[1, 4 + C, N]`` (box centre and size in input pixels, then sigmoid class scores),
the layout ``edge_bml.stages.detector`` decodes. This checks the model has that shape, copies it
into a variant folder and writes its manifest.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from converters.atomic_dir import atomic_directory
from edge_bml.errors import EdgeBmlError, ModelLoadError
from edge_bml.manifest import parse_manifest, sha256_file, write_manifest


class YoloImportError(EdgeBmlError, ValueError):
    """The model to import is not a YOLO-layout detector matching the labels and input size given."""


def _static_dims(value_info) -> list[int | None]:
    dims = value_info.type.tensor_type.shape.dim
    return [d.dim_value if d.HasField("dim_value") else None for d in dims]


def check_yolo_onnx(path: Path, *, num_classes: int, width: int, height: int) -> tuple[str, str, str]:
    """The input name, output name and precision of a YOLO-layout ONNX detector.

    Raises:
        ModelLoadError: not a readable ONNX file; YoloImportError: the shapes do not fit.
    """
    import onnx

    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as error:  # onnx raises DecodeError and others for a bad file
        raise ModelLoadError(f"{path} is not a readable ONNX model: {error}") from error
    initializers = {init.name for init in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in initializers]
    if len(inputs) != 1 or len(model.graph.output) != 1:
        raise YoloImportError(
            f"{path}: a YOLO detector has one image input and one output, found {len(inputs)} and "
            f"{len(model.graph.output)}; export it with Ultralytics `format=onnx` (no NMS)"
        )
    in_dims, out_dims = _static_dims(inputs[0]), _static_dims(model.graph.output[0])
    expected_in = [1, 3, height, width]
    if len(in_dims) != 4 or any(d is not None and d != e for d, e in zip(in_dims, expected_in)):
        raise YoloImportError(f"{path}: input shape {in_dims} does not match 1x3x{height}x{width} (--input-size)")
    if len(out_dims) != 3 or out_dims[1] not in (None, 4 + num_classes):
        raise YoloImportError(
            f"{path}: output shape {out_dims} is not [1, 4 + {num_classes}, N] for the {num_classes} labels given"
        )
    types = {init.data_type for init in model.graph.initializer}
    ops = {node.op_type for node in model.graph.node}
    if {"QuantizeLinear", "DequantizeLinear", "QLinearConv"} & ops:
        precision = "int8"
    elif onnx.TensorProto.FLOAT16 in types:
        precision = "fp16"
    else:
        precision = "fp32"
    return inputs[0].name, model.graph.output[0].name, precision


def import_yolo(
    model_path: Path,
    out: Path,
    *,
    labels: list[str],
    width: int,
    height: int,
    score_threshold: float = 0.25,
    iou_threshold: float = 0.5,
) -> Path:
    """Copy a YOLO-layout ONNX detector into the variant folder ``out`` with its manifest; returns ``out``.

    Raises:
        YoloImportError: bad labels, size or model layout; ModelLoadError: unreadable model.
    """
    model_path = Path(model_path)
    if not model_path.is_file():
        raise YoloImportError(f"no model file at {model_path}")
    if model_path.suffix != ".onnx":
        raise YoloImportError(f"{model_path}: only ONNX exports can be imported (Ultralytics `format=onnx`)")
    labels = [label.strip() for label in labels if label.strip()]
    if not labels or len(set(labels)) != len(labels):
        raise YoloImportError(f"--labels must be distinct, non-empty names, got {labels}")
    if width < 1 or height < 1:
        raise YoloImportError(f"--input-size must be positive, got {width}x{height}")
    input_name, output_name, precision = check_yolo_onnx(
        model_path, num_classes=len(labels), width=width, height=height
    )
    model_file = model_path.name
    with atomic_directory(out) as staging:
        shutil.copyfile(model_path, staging / model_file)
        data = {
            "name": out.name,
            "task": "detector",
            "format": "onnx",
            "precision": precision,
            "model_file": model_file,
            "sha256": {model_file: sha256_file(staging / model_file)},
            "input": {
                "name": input_name,
                "width": width,
                "height": height,
                "layout": "NCHW",
                "color": "RGB",
                "mean": [0.0, 0.0, 0.0],
                "std": [255.0, 255.0, 255.0],
                "resize": "letterbox",
                "dtype": "float32",
            },
            "outputs": {"predictions": output_name},
            "labels": labels,
            "decoder": {
                "layout": "yolov8",
                "score_activation": "none",
                "score_threshold": score_threshold,
                "class_score_thresholds": {label: score_threshold for label in labels},
                "iou_threshold": iou_threshold,
                "max_detections": 100,
                "person_crop_margin": 0.08,
            },
            "source": {"imported_with": "edge-bml-convert import yolo", "original_file": model_path.name},
            "license": "as the imported model's",
            "metrics": {"size_bytes": (staging / model_file).stat().st_size},
        }
        write_manifest(parse_manifest(data, staging))
    return out
