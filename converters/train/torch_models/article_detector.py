"""The article detector: MobileNetV2 + a small feature pyramid + an anchor-free decoupled head.

Each grid point of the stride 8/16/32 maps predicts class logits and the distances (left, top,
right, bottom) from its centre to the box edges. ``export=True`` makes ``forward`` return the
Ultralytics YOLOv8 layout ``[1, 4 + num_classes, N]``: box centre x, y, width, height in input
pixels, then sigmoid class scores, so the runtime decoder also reads users' YOLO exports.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from converters.train.torch_models.mobilenet_v2 import TAP_CHANNELS, MobileNetV2Features, conv_bn_relu

STRIDES = (8, 16, 32)
BACKBONES = ("mobilenet_v2", "centernet_coco")


def separable(channels: int) -> nn.Sequential:
    """Depthwise 3x3 then pointwise 1x1: cheap on CPUs and friendly to INT8."""
    return nn.Sequential(conv_bn_relu(channels, channels, 3, groups=channels), conv_bn_relu(channels, channels, 1))


class Pyramid(nn.Module):
    """Top-down feature pyramid: 1x1 laterals, nearest upsampling, a separable conv per level."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.laterals = nn.ModuleList(conv_bn_relu(c, width, 1) for c in TAP_CHANNELS)
        self.smooth = nn.ModuleList(separable(width) for _ in TAP_CHANNELS)

    def forward(self, taps: list[torch.Tensor]) -> list[torch.Tensor]:
        c3, c4, c5 = (lateral(tap) for lateral, tap in zip(self.laterals, taps))
        p5 = c5
        p4 = c4 + F.interpolate(p5, scale_factor=2.0, mode="nearest")
        p3 = c3 + F.interpolate(p4, scale_factor=2.0, mode="nearest")
        return [smooth(p) for smooth, p in zip(self.smooth, (p3, p4, p5))]


class CenterNetPyramid(nn.Module):
    """The COCO CenterNet's top-down neck (strides 8, 16, 32), then a 1x1 lateral per level to ``width``."""

    def __init__(self, width: int) -> None:
        super().__init__()
        from converters.train.torch_models.mobilenet_v3_centernet import LEVEL_CHANNELS, CenterNetNeck

        self.top = CenterNetNeck()
        self.laterals = nn.ModuleList(conv_bn_relu(c, width, 1) for c in LEVEL_CHANNELS)

    def forward(self, taps: list[torch.Tensor]) -> list[torch.Tensor]:
        return [lateral(level) for lateral, level in zip(self.laterals, self.top(taps))]


class Head(nn.Module):
    """Per-level decoupled branches: class logits and box distances (in strides)."""

    def __init__(self, width: int, num_classes: int) -> None:
        super().__init__()
        self.cls_branch = nn.ModuleList(nn.Sequential(separable(width), separable(width)) for _ in STRIDES)
        self.box_branch = nn.ModuleList(nn.Sequential(separable(width), separable(width)) for _ in STRIDES)
        self.cls_out = nn.ModuleList(nn.Conv2d(width, num_classes, 1) for _ in STRIDES)
        self.box_out = nn.ModuleList(nn.Conv2d(width, 4, 1) for _ in STRIDES)
        prior = -math.log((1 - 0.01) / 0.01)
        for conv in self.cls_out:
            nn.init.constant_(conv.bias, prior)
        for conv in self.box_out:
            nn.init.constant_(conv.bias, 0.5)

    def forward(self, levels: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        logits, distances = [], []
        for i, feature in enumerate(levels):
            logits.append(self.cls_out[i](self.cls_branch[i](feature)).flatten(2))
            distances.append(self.box_out[i](self.box_branch[i](feature)).flatten(2))
        return torch.cat(logits, 2), torch.cat(distances, 2)


def grid_points(width: int, height: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Centres (N, 2) in input pixels and strides (N,) of every grid point, level by level."""
    points, strides = [], []
    for stride in STRIDES:
        ys, xs = torch.meshgrid(
            torch.arange(height // stride, dtype=torch.float32),
            torch.arange(width // stride, dtype=torch.float32),
            indexing="ij",
        )
        xy = torch.stack([xs.flatten(), ys.flatten()], 1).add(0.5).mul(stride)
        points.append(xy)
        strides.append(torch.full((xy.shape[0],), float(stride)))
    return torch.cat(points), torch.cat(strides)


class ArticleDetector(nn.Module):
    """Fashion-article detector for a fixed ``width`` x ``height`` NCHW input (ImageNet-normalised RGB)."""

    def __init__(
        self,
        *,
        num_classes: int,
        width: int,
        height: int,
        channels: int = 96,
        backbone: str = "mobilenet_v2",
        input_mean: tuple[float, ...] = (0.0, 0.0, 0.0),
        input_std: tuple[float, ...] = (1.0, 1.0, 1.0),
    ) -> None:
        """``backbone``: ``mobilenet_v2`` (ImageNet MobileNetV2 + a feature pyramid) or ``centernet_coco``
        (the COCO CenterNet's MobileNetV3 and neck, which read 0..255 pixels: ``input_mean``/``input_std``,
        the normalisation the input arrives with, are undone first).

        Raises:
            ValueError: a size that is not a multiple of 32, or an unknown backbone.
        """
        super().__init__()
        if width % 32 or height % 32:
            raise ValueError(f"input width and height must be multiples of 32, got {width}x{height}")
        if backbone not in BACKBONES:
            raise ValueError(f"backbone must be one of {BACKBONES}, got {backbone!r}")
        self.num_classes, self.input_width, self.input_height = num_classes, width, height
        if backbone == "centernet_coco":
            from converters.train.torch_models.mobilenet_v3_centernet import CenterNetFeatures

            self.backbone = CenterNetFeatures(input_mean=input_mean, input_std=input_std)
            self.neck = CenterNetPyramid(channels)
        else:
            self.backbone = MobileNetV2Features()
            self.neck = Pyramid(channels)
        self.head = Head(channels, num_classes)
        points, strides = grid_points(width, height)
        self.register_buffer("points", points, persistent=False)
        self.register_buffer("strides", strides, persistent=False)
        self.export = False

    def raw(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Class logits (B, C, N) and box xyxy (B, N, 4) in input pixels."""
        logits, boxes, _ = self.raw_with_levels(x)
        return logits, boxes

    def raw_with_levels(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
        """``raw``'s logits and boxes, and the pyramid's levels (strides 8, 16, 32) for training-only heads."""
        levels = self.neck(self.backbone(x))
        logits, distances = self.head(levels)
        ltrb = F.softplus(distances.transpose(1, 2)) * self.strides[None, :, None]
        xy = self.points[None]
        boxes = torch.cat([xy - ltrb[..., :2], xy + ltrb[..., 2:]], 2)
        return logits, boxes, levels

    def forward(self, x: torch.Tensor):
        logits, boxes = self.raw(x)
        if not self.export:
            return logits, boxes
        centre = (boxes[..., :2] + boxes[..., 2:]) / 2
        size = boxes[..., 2:] - boxes[..., :2]
        return torch.cat([torch.cat([centre, size], 2).transpose(1, 2), logits.sigmoid()], 1)
