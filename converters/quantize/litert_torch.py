"""INT8 LiteRT ``.tflite`` from a PyTorch checkpoint of a model edge_bml trains: litert-torch, PT2E.

Route: the checkpoint (``edge-bml-convert train embedder`` / ``train detector``) is loaded into its
model definition (``converters.train.embedder_net`` / ``converters.train.torch_models.article_detector``), with
the configuration the checkpoint records; ``torch.export`` -> ``prepare_pt2e`` with litert-torch's
``PT2EQuantizer`` (weights INT8 symmetric per channel, activations INT8 per tensor, HistogramObserver;
plus conv -> ReLU6 observed after the clamp, see ``_quantizer``) -> the calibration inputs run through
it -> ``convert_pt2e`` -> ``litert_torch.convert``. Input and outputs stay float32 (litert-torch makes
the input int8; ``float_io`` puts a QUANTIZE op back behind a float input); the input keeps the FP32
variant's NCHW layout (the converter puts one TRANSPOSE after it), and the graph's input and output
tensors get the FP32 variant's names, so the FP32 manifest's ``input`` and ``outputs`` describe the
``.tflite`` as they are.

The FP32 ``.tflite`` of the same checkpoint is written beside it as a stored variant
(``<name>_fp32_tflite``): the validator compares INT8 with FP32 of the same format.

What stays float: the embedder's L2 normalisation (no INT8 kernels for it); the detector's box
arithmetic after the head (grid points, strides) and the final concatenation of pixel coordinates
with 0..1 scores, which one INT8 scale cannot hold both of. The detector's backbone, pyramid and
head are INT8 (only ops inside those modules are annotated).

litert-torch and torch are the ``litert`` extra (``pip install -e .[litert]``, about 2 GB); neither
is imported before a conversion runs.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from converters.atomic_dir import atomic_directory
from converters.quantize.errors import QuantizationError
from converters.quantize.output import ALL_INT8, KeepFloat, QuantizedOutput
from edge_bml.manifest import MANIFEST_NAME, ModelManifest, load_manifest, parse_manifest, sha256_file, write_manifest

TORCH_SUFFIXES = (".pt", ".pth")
EXTRA = "litert"
# The FP32 .tflite must reproduce the PyTorch model: max abs error over the output's largest value (at
# least 1; the detector's boxes are in pixels). Past this, the conversion changed the maths.
MAX_FP32_ERROR = 1e-3


class LitertTorchError(QuantizationError):
    """The checkpoint cannot go through litert-torch (extra missing, checkpoint and manifest disagree)."""


def _require_extra() -> None:
    try:
        import litert_torch  # noqa: F401
        import torch  # noqa: F401
        import torchao  # noqa: F401
    except ImportError as error:
        raise LitertTorchError(
            f"PyTorch -> TFLite conversion needs litert-torch, which is not installed ({error}); "
            f"install the '{EXTRA}' extra: pip install -e '.[{EXTRA}]' (about 2 GB, kept out of the runtime)"
        ) from None


def _load_checkpoint(path: Path) -> dict:
    import torch

    state = torch.load(path, map_location="cpu", weights_only=False)
    if not isinstance(state, dict) or "model" not in state or "config" not in state:
        raise LitertTorchError(f"{path} is not an edge_bml training checkpoint (no 'model' and 'config')")
    return state


def _embedder_module(state: dict, manifest: ModelManifest):
    import torch
    from torch.nn import functional as F

    from converters.train.embedder_net import ArticleEmbedderNet
    from converters.train.torch_models.efficientnet_lite0 import EfficientNetLite0

    config = state["config"]
    size, dims = int(config["size"]), int(manifest.decoder.get("dims", config["dims"]))
    if (manifest.input.width, manifest.input.height) != (size, size):
        raise LitertTorchError(
            f"the checkpoint was trained at {size} px, {manifest.name} feeds "
            f"{manifest.input.width}x{manifest.input.height}"
        )
    heads = sorted({int(k.split(".")[1]) for k in state["model"] if k.startswith("heads.")})
    net = ArticleEmbedderNet(EfficientNetLite0(), dims=tuple(heads))
    net.load_state_dict(state["model"])
    if dims not in heads:
        raise LitertTorchError(f"{manifest.name} has {dims}-d vectors; the checkpoint has heads {heads}")

    class Embedder(torch.nn.Module):
        """``ExportedEmbedder``'s maths without its ``no_grad`` block, which torch.export makes a
        sub-graph that PT2E leaves unquantized."""

        def __init__(self) -> None:
            super().__init__()
            self.backbone, self.head = net.backbone, net.heads[str(dims)]

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return F.normalize(self.head(self.backbone.features(x).mean(dim=(2, 3))), dim=1)

    return Embedder().eval(), {"dims": dims, "size": size, "steps": state.get("step")}, ()


def _detector_module(state: dict, manifest: ModelManifest):
    from converters.train.torch_models.article_detector import ArticleDetector

    config = state["config"]
    width, height = int(config["width"]), int(config["height"])
    if (manifest.input.width, manifest.input.height) != (width, height):
        raise LitertTorchError(
            f"the checkpoint was trained at {width}x{height}, {manifest.name} feeds "
            f"{manifest.input.width}x{manifest.input.height}"
        )
    net = ArticleDetector(num_classes=len(manifest.labels), width=width, height=height)
    net.load_state_dict(state["model"])
    net.export = True  # the YOLOv8 layout the FP32 ONNX variant has
    described = {"width": width, "height": height, "classes": len(manifest.labels), "epoch": state.get("epoch")}
    return net.eval(), described, (type(net.backbone), type(net.neck), type(net.head))


def torch_module(checkpoint: Path, manifest: ModelManifest):
    """The inference module of ``checkpoint`` for ``manifest.task``: (module, its settings, INT8 module types).

    The module takes the FP32 variant's NCHW normalised input and returns its one output tensor.
    No INT8 module types means everything PT2E can quantize is quantized; otherwise only the ops inside
    modules of those types are (the detector's box decoding stays float).

    Raises:
        LitertTorchError: not a training checkpoint, a task without a model definition here, or the
        checkpoint's configuration does not match the manifest.
    """
    if len(manifest.outputs) != 1:
        raise LitertTorchError(f"{manifest.name}: only single-output models are converted ({manifest.outputs})")
    state = _load_checkpoint(checkpoint)
    builders = {"embedder": _embedder_module, "detector": _detector_module}
    if manifest.task not in builders:
        raise LitertTorchError(f"no PyTorch model definition for task {manifest.task!r} (only {sorted(builders)})")
    try:
        return builders[manifest.task](state, manifest)
    except (KeyError, RuntimeError) as error:  # missing config keys, state_dict mismatch
        raise LitertTorchError(
            f"{checkpoint} does not fit the {manifest.task} model of {manifest.name}: {error}"
        ) from error


def _sample(manifest: ModelManifest):
    import torch

    spec = manifest.input
    if spec.layout != "NCHW":
        raise LitertTorchError(f"{manifest.name}: the PyTorch models take NCHW input, the manifest says {spec.layout}")
    return torch.zeros(1, 3, spec.height, spec.width)


def _export(edge_model, path: Path, manifest: ModelManifest) -> dict[str, Any]:
    """Write the converted model with float32 I/O and the FP32 variant's tensor names on its input and output."""
    from converters.quantize.tflite_surgery import restore_io_names

    edge_model.export(str(path))
    path.chmod(0o644)
    added = float_io(path)
    renamed = restore_io_names(path, [manifest.input.name or "input"], list(manifest.outputs.values()))
    return {"float_io_ops_added": added, "renamed": renamed}


def float_io(path: Path) -> list[str]:
    """Make int8/uint8 graph inputs and outputs float32, in place: QUANTIZE after each, DEQUANTIZE before each.

    litert-torch folds the first QUANTIZE of a PT2E static model into the graph input (an int8 input
    with the calibrated scale); the runtime feeds the FP32 variant's float tensors. Returns the ops added.
    """
    from ai_edge_litert import schema_py_generated as schema
    from ai_edge_litert.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model(str(path))
    graph = model.subgraphs[0]
    quantized = (schema.TensorType.INT8, schema.TensorType.UINT8)

    def opcode(builtin: int) -> int:
        for index, code in enumerate(model.operatorCodes):
            if max(code.builtinCode, code.deprecatedBuiltinCode) == builtin:
                return index
        code = schema.OperatorCodeT()
        code.builtinCode, code.deprecatedBuiltinCode, code.version = builtin, min(builtin, 127), 2
        model.operatorCodes.append(code)
        return len(model.operatorCodes) - 1

    def float_twin(index: int) -> int:
        inner = graph.tensors[index]
        twin = schema.TensorT()
        twin.name, twin.type, twin.buffer = inner.name, schema.TensorType.FLOAT32, 0
        twin.shape, twin.shapeSignature = inner.shape, inner.shapeSignature
        name = inner.name.decode() if isinstance(inner.name, bytes) else inner.name
        inner.name = f"{name}_int8"
        graph.tensors.append(twin)
        return len(graph.tensors) - 1

    added, moved = [], {}
    for position, index in enumerate(graph.inputs):
        if graph.tensors[index].type in quantized:
            twin = moved[index] = float_twin(index)
            op = schema.OperatorT()
            op.opcodeIndex, op.inputs, op.outputs = opcode(schema.BuiltinOperator.QUANTIZE), [twin], [index]
            graph.operators.insert(0, op)
            graph.inputs[position] = twin
            added.append(f"QUANTIZE after input {position}")
    for position, index in enumerate(graph.outputs):
        if graph.tensors[index].type in quantized:
            twin = moved[index] = float_twin(index)
            op = schema.OperatorT()
            op.opcodeIndex, op.inputs, op.outputs = opcode(schema.BuiltinOperator.DEQUANTIZE), [index], [twin]
            graph.operators.append(op)
            graph.outputs[position] = twin
            added.append(f"DEQUANTIZE before output {position}")
    for signature in model.signatureDefs or []:
        for tensor_map in list(signature.inputs or []) + list(signature.outputs or []):
            tensor_map.tensorIndex = moved.get(tensor_map.tensorIndex, tensor_map.tensorIndex)
    if added:
        flatbuffer_utils.write_model(model, str(path))
    return added


def _versions() -> str:
    from importlib.metadata import PackageNotFoundError, version

    found = []
    for name in ("litert-torch", "torch", "torchao", "ai-edge-litert"):
        try:
            found.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            found.append(f"{name} unknown")
    return ", ".join(found)


def _fp32_error(module, path: Path, tensor: np.ndarray) -> tuple[float, float]:
    """Max abs difference between the PyTorch module and the ``.tflite`` on one input, and the largest output."""
    import torch
    from ai_edge_litert.interpreter import Interpreter

    with torch.no_grad():
        expected = module(torch.from_numpy(tensor)).numpy()
    interpreter = Interpreter(model_path=str(path))
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], tensor)
    interpreter.invoke()
    got = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    return float(np.max(np.abs(expected - got.reshape(expected.shape)))), float(np.max(np.abs(expected)))


def convert_fp32(checkpoint: Path, manifest: ModelManifest, out_dir: Path, stem: str, check: np.ndarray) -> dict:
    """Write ``out_dir/stem.tflite``, the FP32 conversion of ``checkpoint``; returns its settings.

    ``check`` is one model input on which the ``.tflite`` must match the PyTorch module.

    Raises:
        LitertTorchError: litert-torch is missing, the checkpoint does not fit, or the ``.tflite``
        does not reproduce the PyTorch model.
    """
    _require_extra()
    import litert_torch

    module, described, _ = torch_module(checkpoint, manifest)
    path = out_dir / f"{stem}.tflite"
    renamed = _export(litert_torch.convert(module, (_sample(manifest),)), path, manifest)
    error, largest = _fp32_error(module, path, check)
    if not error <= MAX_FP32_ERROR * max(1.0, largest):
        raise LitertTorchError(
            f"the FP32 .tflite differs from PyTorch by {error:.3g} on outputs up to {largest:.3g} "
            f"(over {MAX_FP32_ERROR} of that)"
        )
    return {
        "tool": _versions(),
        "model": described,
        "io": "float32 input (NCHW, as the FP32 ONNX variant) and outputs",
        "max_abs_error_vs_pytorch": round(error, 7),
        "io_tensors": renamed,
    }


def _type_keys(module_type: type) -> tuple:
    """How a module type can appear in a node's ``nn_module_stack``: the class, or its dotted name (as
    non-strict torch.export records it)."""
    return (module_type, f"{module_type.__module__}.{module_type.__qualname__}")


def onnx_style_name(module_path: str) -> str:
    """A module path as the ONNX export names its nodes, so one ``--keep-float`` pattern fits every route.

    ``backbone._blocks.0._expand_conv`` -> ``/backbone/_blocks.0/_expand_conv/`` (list indices stay
    joined to their list by a dot, as ``torch.onnx.export`` writes them).
    """
    parts: list[str] = []
    for part in module_path.split(".") if module_path else []:
        if part.isdigit() and parts:
            parts[-1] = f"{parts[-1]}.{part}"
        else:
            parts.append(part)
    return "/" + "".join(f"{part}/" for part in parts)


def _quantizer(int8_types: tuple[type, ...] = (), keep_float: tuple[str, ...] = ()):
    """litert-torch's PT2EQuantizer, plus conv -> ReLU6 (hardtanh) as one pattern observed after the clamp.

    As shipped, the quantizer fuses conv with ReLU only: behind a ReLU6 the conv's output observer
    sees the unclamped range and the hardtanh shares it, so the 0..6 that matters gets a fraction of
    the 256 levels (EfficientNet-Lite and MobileNetV2 are ReLU6 throughout: cosine to FP32 0.96, top-10
    overlap 0.65 on the embedder). TFLite fuses the clamp into the conv as RELU6 either way.

    ``int8_types``: where given, only ops called inside modules of these types are annotated (weights
    and other non-op nodes, which have no module stack, go with their op). PT2EQuantizer's own
    ``set_module_type`` cannot do this: its filter also tests the weight nodes, which have no module
    stack, so no convolution ever matches. ``keep_float``: regular expressions on the ONNX-style name
    of an op's innermost module (``onnx_style_name``); matching ops stay float.
    """
    import torch
    from litert_torch.quantize import pt2e_quantizer
    from litert_torch.quantize import pt2e_quantizer_utils as utils
    from torchao.quantization.pt2e.quantizer import QuantizationAnnotation

    convs = (torch.ops.aten.conv1d.default, torch.ops.aten.conv2d.default, torch.ops.aten.convolution.default)
    clamps = (torch.ops.aten.hardtanh.default, torch.ops.aten.hardtanh_.default)

    def annotate_conv_hardtanh(model, config, filter_fn) -> None:
        for clamp in model.graph.nodes:
            if clamp.op != "call_function" or clamp.target not in clamps:
                continue
            conv = clamp.args[0]
            if getattr(conv, "op", None) != "call_function" or conv.target not in convs or len(conv.users) != 1:
                continue
            inputs = {conv.args[0]: utils.get_input_act_qspec(config), conv.args[1]: utils.get_weight_qspec(config)}
            partition = [clamp, conv, conv.args[1]]
            bias = conv.args[2] if len(conv.args) > 2 else None
            if isinstance(bias, torch.fx.Node):
                inputs[bias] = utils.get_bias_qspec(config)
                partition.append(bias)
            if utils._is_annotated(partition) or (filter_fn and not all(filter_fn(n) for n in partition)):
                continue
            conv.meta["quantization_annotation"] = QuantizationAnnotation(input_qspec_map=inputs, _annotated=True)
            clamp.meta["quantization_annotation"] = QuantizationAnnotation(
                output_qspec=utils.get_output_act_qspec(config), _annotated=True
            )
            utils._mark_nodes_as_annotated(partition)

    scope = {key for module_type in int8_types for key in _type_keys(module_type)}
    kept = [re.compile(pattern) for pattern in keep_float]

    def in_scope(node) -> bool:
        if node.op != "call_function":
            return True
        stack = list((node.meta.get("nn_module_stack") or {}).values())
        if scope and not any(kind in scope for _, kind in stack):
            return False
        innermost = max((str(path) for path, _ in stack), key=len, default="")
        return not any(pattern.search(onnx_style_name(innermost)) for pattern in kept)

    class Quantizer(pt2e_quantizer.PT2EQuantizer):
        def _annotate_all_static_patterns(self, model, quantization_config, filter_fn=None):
            if scope or kept:
                filter_fn = in_scope  # called once, for the global config: nothing else is set
            if quantization_config is not None and not quantization_config.is_qat:
                annotate_conv_hardtanh(model, quantization_config, filter_fn)
            return super()._annotate_all_static_patterns(model, quantization_config, filter_fn)

    return Quantizer()


def quantize_litert_torch(
    checkpoint: Path,
    out_dir: Path,
    stem: str,
    calibration: list[np.ndarray],
    *,
    manifest: ModelManifest,
    keep_float: KeepFloat = ALL_INT8,
) -> QuantizedOutput:
    """Quantize the PyTorch ``checkpoint`` (model of ``manifest.task``) to ``out_dir/stem.tflite``.

    ``calibration`` holds the model inputs as the runtime feeds the FP32 variant (NCHW float32).

    ``keep_float.patterns`` keep the ops of matching modules float (names as ``onnx_style_name``).

    Raises:
        LitertTorchError: litert-torch is missing, the checkpoint does not fit, or ``keep_float``
        asks for layers by feature-map size (not supported on this route).
    """
    if keep_float.max_size is not None:
        raise LitertTorchError(
            "--keep-float-max-size is not supported on the litert-torch route (it keeps its own float tail); "
            "name the layers with --keep-float PATTERN"
        )
    _require_extra()
    import litert_torch
    import torch
    from litert_torch.quantize import pt2e_quantizer
    from litert_torch.quantize.quant_config import QuantConfig
    from torchao.quantization.pt2e import move_exported_model_to_eval, quantize_pt2e

    module, described, int8_types = torch_module(checkpoint, manifest)
    sample = _sample(manifest)
    config = pt2e_quantizer.get_symmetric_quantization_config(is_per_channel=True, is_dynamic=False)
    quantizer = _quantizer(int8_types, keep_float.patterns).set_global(config)
    with torch.no_grad():
        # strict (TorchDynamo) export records the source ops that the quantizer's ``add`` pattern looks for:
        # with the non-strict default the residual additions stay float.
        exported = torch.export.export(module, (sample,), strict=True).module()
        prepared = quantize_pt2e.prepare_pt2e(exported, quantizer)
        for tensor in calibration:
            prepared(torch.from_numpy(np.ascontiguousarray(tensor, np.float32)))
        converted = move_exported_model_to_eval(quantize_pt2e.convert_pt2e(prepared, fold_quantize=False))
        edge_model = litert_torch.convert(converted, (sample,), quant_config=QuantConfig(pt2e_quantizer=quantizer))
    model_file = f"{stem}.tflite"
    renamed = _export(edge_model, out_dir / model_file, manifest)
    settings: dict[str, Any] = {
        "tool": _versions(),
        "model": described,
        "quantizer": "litert_torch PT2EQuantizer, get_symmetric_quantization_config(is_per_channel=True, "
        "is_dynamic=False): weights int8 symmetric per-channel (PerChannelMinMaxObserver), activations int8 "
        "affine per-tensor (HistogramObserver); plus conv->ReLU6 observed after the clamp; torch.export "
        "strict=True; torchao prepare_pt2e/convert_pt2e(fold_quantize=False)",
        "int8_modules": [t.__name__ for t in int8_types] or "all",
        "keep_float": keep_float.describe(),
        "kept_float": {
            "embedder": "L2 normalisation",
            "detector": "box arithmetic after the head (grid points, strides, centre/size) and the final concat "
            "of pixel coordinates with 0..1 scores",
        }.get(manifest.task, ""),
        "io": "float32 input (NCHW, as the FP32 ONNX variant) and outputs",
        "calibration_samples": len(calibration),
        "io_tensors": renamed,
    }
    route = "litert-torch: torch.export + PT2E (PT2EQuantizer) + litert_torch.convert, from a PyTorch checkpoint"
    return QuantizedOutput(model_file=model_file, files=[model_file], route=route, settings=settings)


def fp32_twin(checkpoint: Path, manifest: ModelManifest, root: Path, check: np.ndarray) -> ModelManifest:
    """The FP32 ``.tflite`` variant of ``checkpoint`` under ``root`` (named as ``manifest`` with ``_tflite``).

    Written (atomically) where it is missing; reused where it was made from this checkpoint.

    Raises:
        LitertTorchError: a variant of that name exists but was made from something else; anything
        ``convert_fp32`` raises.
    """
    name = f"{manifest.name.removesuffix(f'_{manifest.format}')}_tflite"
    directory = root / name
    digest = sha256_file(checkpoint)
    if (directory / MANIFEST_NAME).is_file():
        existing = load_manifest(directory)
        if existing.source.get("checkpoint_sha256") != digest:
            raise LitertTorchError(
                f"{directory} exists and was not made from {checkpoint}; remove it or write --out elsewhere"
            )
        existing.verify()
        return existing
    stem = Path(manifest.model_file).stem
    with atomic_directory(directory) as staging:
        settings = convert_fp32(checkpoint, manifest, staging, stem, check)
        model_file = f"{stem}.tflite"
        holdout = (manifest.source.get("training") or {}).get("holdout") or {}
        extra = [holdout["file"]] if holdout.get("file") else []
        for file_name in extra:  # the embedder's held-out ids: its default validation set
            if (manifest.directory / file_name).is_file():
                shutil.copyfile(manifest.directory / file_name, staging / file_name)
        data = dataclasses.replace(manifest, directory=staging).to_json()
        data.update(
            name=name,
            format="tflite",
            precision="fp32",
            model_file=model_file,
            sha256={model_file: sha256_file(staging / model_file)},
            source={
                **manifest.source,
                "same_checkpoint_as": manifest.name,
                "checkpoint": str(checkpoint),
                "checkpoint_sha256": digest,
                "converted_with": "litert-torch (litert_torch.convert), float32",
                "conversion": settings,
            },
            metrics={"size_bytes": (staging / model_file).stat().st_size},
        )
        write_manifest(parse_manifest(data, staging))
    return load_manifest(directory)
