"""The garment parser: MobileNetV2 + an LR-ASPP-like head refined top-down to stride 4.

The stride-32 map is projected and gated by its own global average (LR-ASPP's attention), then
merged top-down with 1x1 laterals of the stride 16, 8 and 4 maps (bilinear upsampling, one
separable convolution per level, as the detector's pyramid). The output is per-class logits at
stride 4 of the input; the runtime upsamples them to the person crop.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from converters.train.torch_models.mobilenet_v2 import MobileNetV2Features, conv_bn_relu

# Indices into ``MobileNetV2Features.features`` whose outputs the head reads: strides 4, 8, 16, 32.
TAPS = (3, 6, 13, 17)
TAP_CHANNELS = (24, 32, 96, 320)
OUTPUT_STRIDE = 4


def separable(channels: int) -> nn.Sequential:
    """Depthwise 3x3 then pointwise 1x1 (both with BatchNorm and ReLU6)."""
    return nn.Sequential(conv_bn_relu(channels, channels, 3, groups=channels), conv_bn_relu(channels, channels, 1))


def _up(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, size=like.shape[-2:], mode="bilinear", align_corners=False)


class ParserHead(nn.Module):
    """Gated stride-32 context, merged top-down with the stride 16/8/4 maps; logits at stride 4."""

    def __init__(self, num_classes: int, *, width: int = 96, fine_width: int = 48) -> None:
        super().__init__()
        c4, c8, c16, c32 = TAP_CHANNELS
        self.context = conv_bn_relu(c32, width, 1)
        self.gate = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(c32, width, 1), nn.Sigmoid())
        self.lateral16 = conv_bn_relu(c16, width, 1)
        self.lateral8 = conv_bn_relu(c8, width, 1)
        self.smooth16 = separable(width)
        self.smooth8 = separable(width)
        self.reduce8 = conv_bn_relu(width, fine_width, 1)
        self.lateral4 = conv_bn_relu(c4, fine_width, 1)
        self.smooth4 = separable(fine_width)
        self.classifier = nn.Conv2d(fine_width, num_classes, 1)

    def forward(self, taps: list[torch.Tensor]) -> torch.Tensor:
        f4, f8, f16, f32 = taps
        x = self.context(f32) * self.gate(f32)
        x = self.smooth16(self.lateral16(f16) + _up(x, f16))
        x = self.smooth8(self.lateral8(f8) + _up(x, f8))
        x = self.smooth4(self.lateral4(f4) + _up(self.reduce8(x), f4))
        return self.classifier(x)


class GarmentParser(nn.Module):
    """Per-pixel class logits ``[B, C, H/4, W/4]`` for an ImageNet-normalised NCHW RGB person crop."""

    def __init__(self, *, num_classes: int, width: int, height: int) -> None:
        super().__init__()
        if width % 32 or height % 32:
            raise ValueError(f"input width and height must be multiples of 32, got {width}x{height}")
        self.num_classes, self.input_width, self.input_height = num_classes, width, height
        self.backbone = MobileNetV2Features()
        self.head = ParserHead(num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        taps = []
        for index, layer in enumerate(self.backbone.features):
            x = layer(x)
            if index in TAPS:
                taps.append(x)
        return self.head(taps)
