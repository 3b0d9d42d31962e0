"""Start a training run from an exported FP32 ONNX embedder variant (when its checkpoint is gone).

The ONNX export folded each BatchNorm into the convolution before it and named every Conv node by
its module path (``/_blocks.12/_expand_conv/Conv_output_0``). Loading a folded convolution back
sets the conv weight to the folded weight and its BatchNorm to an identity plus the folded bias,
which computes exactly what the ONNX model does (BatchNorm statistics stay frozen in training).
"""

from __future__ import annotations

from pathlib import Path

from edge_bml.errors import ModelLoadError
from edge_bml.manifest import load_manifest

# The BatchNorm after each convolution, by the convolution's attribute name.
_BN_AFTER = {"_conv_stem": "_bn0", "_conv_head": "_bn1", "_expand_conv": "_bn0", "_depthwise_conv": "_bn1"}
_BN_AFTER_BLOCK = {"_project_conv": "_bn2"}


def _batchnorm_for(backbone, path: str):
    parts = path.split(".")
    if parts[0] == "_blocks":
        block = backbone._blocks[int(parts[1])]
        conv_name = parts[2]
        bn_name = {**_BN_AFTER, **_BN_AFTER_BLOCK}[conv_name]
        return getattr(block, conv_name), getattr(block, bn_name)
    return getattr(backbone, parts[0]), getattr(backbone, _BN_AFTER[parts[0]])


def load_onnx_embedder(net, variant: str | Path) -> dict[str, int]:
    """Copy the trunk and head weights of an FP32 ONNX embedder variant into ``net`` in place.

    Every convolution of the trunk and the head of the variant's ``dims`` must be found; other heads
    keep their initial weights. Returns counts of what was loaded.

    Raises:
        ModelLoadError: the variant is not an FP32 ONNX embedder of this network.
    """
    import onnx
    import torch
    from onnx import numpy_helper

    manifest = load_manifest(variant)
    if manifest.task != "embedder" or manifest.format != "onnx" or manifest.precision != "fp32":
        raise ModelLoadError(f"{variant}: --init-from needs an FP32 ONNX embedder variant")
    model = onnx.load(str(manifest.directory / manifest.model_file))
    weights = {init.name: numpy_helper.to_array(init) for init in model.graph.initializer}
    convs = 0
    with torch.no_grad():
        for node in model.graph.node:
            if node.op_type != "Conv":
                continue
            path = node.output[0].strip("/").rsplit("/", 1)[0].replace("/", ".")
            try:
                conv, bn = _batchnorm_for(net.backbone, path)
            except (AttributeError, IndexError, KeyError, ValueError) as error:
                raise ModelLoadError(f"{variant}: convolution {path!r} has no place in the network") from error
            weight, bias = weights[node.input[1]].copy(), weights[node.input[2]].copy()
            if tuple(conv.weight.shape) != weight.shape:
                raise ModelLoadError(f"{variant}: {path} is {weight.shape}, the network has {tuple(conv.weight.shape)}")
            conv.weight.copy_(torch.from_numpy(weight))
            bn.weight.fill_(1.0)
            bn.bias.copy_(torch.from_numpy(bias))
            bn.running_mean.zero_()
            bn.running_var.fill_(1.0 - bn.eps)
            convs += 1
        expected = sum(isinstance(m, torch.nn.Conv2d) for m in net.backbone.modules())
        if convs != expected:
            raise ModelLoadError(f"{variant}: {convs} convolutions found, the network has {expected}")
        dims = str(manifest.decoder.get("dims"))
        head_weight, head_bias = f"net.heads.{dims}.weight", f"net.heads.{dims}.bias"
        if dims not in net.heads or head_weight not in weights:
            raise ModelLoadError(f"{variant}: no {dims}-d head to load")
        net.heads[dims].weight.copy_(torch.from_numpy(weights[head_weight].copy()))
        net.heads[dims].bias.copy_(torch.from_numpy(weights[head_bias].copy()))
    return {"convolutions": convs, "head_dims": int(dims)}


def checkpoint_from_onnx(variant: str | Path, out: Path) -> Path:
    """Write a training checkpoint (``model`` + ``config``) holding an FP32 ONNX embedder variant's weights.

    For the routes that start from a PyTorch checkpoint (litert-torch) once the training run's own
    checkpoint is gone. The network computes what the ONNX model does (BatchNorms folded, as loaded
    by ``load_onnx_embedder``); the written file is atomic.

    Raises:
        ModelLoadError: the variant is not an FP32 ONNX embedder of this network.
    """
    from converters.train.checkpointing import write_state
    from converters.train.embedder_net import ArticleEmbedderNet
    from converters.train.torch_models.efficientnet_lite0 import EfficientNetLite0

    manifest = load_manifest(variant)
    dims = int(manifest.decoder.get("dims", 0))
    if dims <= 0:
        raise ModelLoadError(f"{variant}: the manifest names no embedding size (decoder.dims)")
    net = ArticleEmbedderNet(EfficientNetLite0(), dims=(dims,))
    loaded = load_onnx_embedder(net, variant)
    training = (manifest.source or {}).get("training") or {}
    config = {**(training.get("config") or {}), "size": manifest.input.width, "dims": dims}
    state = {
        "config": config,
        "model": net.state_dict(),
        "step": training.get("steps"),
        "recovered_from": {"variant": manifest.name, "sha256": manifest.sha256, **loaded},
    }
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_state(out, state)
    return out
