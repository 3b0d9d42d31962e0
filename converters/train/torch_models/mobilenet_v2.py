"""MobileNetV2 feature extractor whose state-dict keys match torchvision's ``mobilenet_v2``.

Only ``features.0`` to ``features.17`` are built (the 1280-channel head and classifier are
not needed by a detector); ``load_torchvision_weights`` loads the matching part of
torchvision's ImageNet state dict and refuses a dict that does not fit.
"""

from __future__ import annotations

import torch
from torch import nn

# (expand ratio, channels, repeats, first stride), as in the MobileNetV2 paper.
SETTINGS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))
# Indices into ``features`` whose outputs feed the pyramid: strides 8, 16, 32.
TAPS = (6, 13, 17)
TAP_CHANNELS = (32, 96, 320)


def conv_bn_relu(inp: int, out: int, kernel: int = 3, stride: int = 1, groups: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(inp, out, kernel, stride, (kernel - 1) // 2, groups=groups, bias=False),
        nn.BatchNorm2d(out),
        nn.ReLU6(inplace=True),
    )


class InvertedResidual(nn.Module):
    def __init__(self, inp: int, out: int, stride: int, expand: int) -> None:
        super().__init__()
        hidden = inp * expand
        self.use_residual = stride == 1 and inp == out
        layers: list[nn.Module] = []
        if expand != 1:
            layers.append(conv_bn_relu(inp, hidden, 1))
        layers += [conv_bn_relu(hidden, hidden, 3, stride, groups=hidden), nn.Conv2d(hidden, out, 1, bias=False)]
        layers.append(nn.BatchNorm2d(out))
        self.conv = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) if self.use_residual else self.conv(x)


class MobileNetV2Features(nn.Module):
    """``features.0..17`` of MobileNetV2; ``forward`` returns the stride 8, 16 and 32 maps."""

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = [conv_bn_relu(3, 32, 3, 2)]
        channels = 32
        for expand, out, repeats, stride in SETTINGS:
            for i in range(repeats):
                layers.append(InvertedResidual(channels, out, stride if i == 0 else 1, expand))
                channels = out
        self.features = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        taps = []
        for index, layer in enumerate(self.features):
            x = layer(x)
            if index in TAPS:
                taps.append(x)
        return taps


def load_torchvision_weights(model: MobileNetV2Features, state_dict: dict[str, torch.Tensor]) -> int:
    """Copy torchvision MobileNetV2 weights into ``model``; returns how many tensors were loaded.

    Raises:
        ValueError: a tensor the model needs is missing or has another shape.
    """
    own = model.state_dict()
    missing = [key for key in own if key not in state_dict]
    if missing:
        raise ValueError(f"not a torchvision MobileNetV2 state dict: {len(missing)} keys missing, e.g. {missing[:3]}")
    wrong = [key for key in own if tuple(state_dict[key].shape) != tuple(own[key].shape)]
    if wrong:
        raise ValueError(f"state dict tensors have other shapes than MobileNetV2's: {wrong[:3]}")
    model.load_state_dict({key: state_dict[key] for key in own})
    return len(own)
