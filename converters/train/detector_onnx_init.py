"""Start a detector training run from an exported FP32 ONNX detector variant (its checkpoint is gone).

The export (eval mode) folded each BatchNorm into the convolution before it and named every Conv
node by its module scope (``/backbone/features.1/conv/conv.0/conv.0.0/Conv_output_0``). A folded
convolution loads back as: conv weight := folded weight, its BatchNorm := identity plus the folded
bias, which computes exactly what the ONNX model computes. Training keeps the backbone's BatchNorm
statistics frozen, but the neck's and head's BatchNorms train from that identity start.
"""

from __future__ import annotations

from pathlib import Path

from edge_bml.errors import ModelLoadError
from edge_bml.manifest import load_manifest


def module_path(node_output: str) -> str:
    """The torch module path of an exported Conv node, from its ONNX scope name.

    ``/backbone/features.1/conv/conv.0/conv.0.0/Conv_output_0`` -> ``backbone.features.1.conv.0.0``:
    each scope repeats its parent's name as a prefix, which is dropped.
    """
    scopes = node_output.strip("/").split("/")[:-1]
    parts: list[str] = []
    previous = ""
    for scope in scopes:
        parts.append(scope[len(previous) + 1 :] if previous and scope.startswith(previous + ".") else scope)
        previous = scope
    return ".".join(parts)


def _conv_and_batchnorm(model, path: str):
    """The Conv2d at ``path`` and the BatchNorm2d right after it in its Sequential (None if it has a bias)."""
    import torch

    conv = model.get_submodule(path)
    if not isinstance(conv, torch.nn.Conv2d):
        raise ModelLoadError(f"{path} is a {type(conv).__name__}, not a convolution")
    if conv.bias is not None:
        return conv, None
    parent_path, _, index = path.rpartition(".")
    parent = model.get_submodule(parent_path)
    following = parent[int(index) + 1] if isinstance(parent, torch.nn.Sequential) else None
    if not isinstance(following, torch.nn.BatchNorm2d):
        raise ModelLoadError(f"{path} has neither a bias nor a BatchNorm after it")
    return conv, following


def load_onnx_detector(model, variant: str | Path) -> dict[str, int]:
    """Copy every convolution of an FP32 ONNX detector variant into the torch ``ArticleDetector`` in place.

    Returns counts of what was loaded.

    Raises:
        ModelLoadError: the variant is not an FP32 ONNX detector of this network (another layout, a
            convolution that does not fit); pass a variant written by ``edge-bml-convert train detector``.
    """
    import onnx
    import torch
    from onnx import numpy_helper

    manifest = load_manifest(variant)
    if manifest.task != "detector" or manifest.format != "onnx" or manifest.precision != "fp32":
        raise ModelLoadError(f"{variant}: --init-from needs an FP32 ONNX detector variant")
    # Convolutions do not depend on the input size: a variant trained at 192x384 may start a run at 224x448
    # (a larger input for small articles), the network being the same.
    graph = onnx.load(str(manifest.directory / manifest.model_file)).graph
    weights = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    loaded, folded = set(), 0
    with torch.no_grad():
        for node in graph.node:
            if node.op_type != "Conv":
                continue
            path = module_path(node.output[0])
            try:
                conv, bn = _conv_and_batchnorm(model, path)
            except (AttributeError, IndexError, ValueError) as error:
                raise ModelLoadError(f"{variant}: convolution {path!r} has no place in the network") from error
            if len(node.input) < 3:
                raise ModelLoadError(f"{variant}: convolution {path!r} has no bias; was it exported in eval mode?")
            weight, bias = weights[node.input[1]].copy(), weights[node.input[2]].copy()
            if tuple(conv.weight.shape) != weight.shape:
                raise ModelLoadError(f"{variant}: {path} is {weight.shape}, the network has {tuple(conv.weight.shape)}")
            conv.weight.copy_(torch.from_numpy(weight))
            if bn is None:
                conv.bias.copy_(torch.from_numpy(bias))
            else:
                bn.weight.fill_(1.0)
                bn.bias.copy_(torch.from_numpy(bias))
                bn.running_mean.zero_()
                bn.running_var.fill_(1.0 - bn.eps)
                folded += 1
            loaded.add(path)
    expected = {name for name, m in model.named_modules() if isinstance(m, torch.nn.Conv2d)}
    if loaded != expected:
        missing = sorted(expected - loaded)
        raise ModelLoadError(f"{variant}: {len(missing)} convolutions of the network are missing, e.g. {missing[:3]}")
    return {"convolutions": len(loaded), "batchnorms_folded": folded}
