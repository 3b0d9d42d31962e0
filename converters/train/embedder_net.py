"""The article embedder network: EfficientNet-Lite0 trunk, pooled, projected, L2-normalised."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from converters.train.torch_models.efficientnet_lite0 import FEATURE_DIMS, EfficientNetLite0

HEAD_DIMS = (128, 256)
# Blocks before this index stay frozen: the low-level ImageNet filters transfer as they are, and
# skipping their gradients is what makes training on 2 CPU cores fit in an hour.
FIRST_TRAINED_BLOCK = 11


class ArticleEmbedderNet(nn.Module):
    """Backbone -> global average pool -> one linear projection per size in ``HEAD_DIMS``.

    Both heads train together on the same trunk so 128 and 256 dimensions can be compared
    by measurement from one run; export keeps one.
    """

    def __init__(self, backbone: EfficientNetLite0, *, dims: tuple[int, ...] = HEAD_DIMS) -> None:
        super().__init__()
        self.backbone = backbone
        self.heads = nn.ModuleDict({str(d): nn.Linear(FEATURE_DIMS, d) for d in dims})
        for index, block in enumerate(backbone._blocks):
            block.requires_grad_(index >= FIRST_TRAINED_BLOCK)
        for module in (backbone._conv_stem, backbone._bn0, backbone._fc):
            module.requires_grad_(False)

    def pooled(self, x: torch.Tensor) -> torch.Tensor:
        b = self.backbone
        with torch.no_grad():
            y = b.act(b._bn0(b._conv_stem(x)))
            for block in b._blocks[:FIRST_TRAINED_BLOCK]:
                y = block(y)
        for block in b._blocks[FIRST_TRAINED_BLOCK:]:
            y = block(y)
        return b.act(b._bn1(b._conv_head(y))).mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> dict[int, torch.Tensor]:
        pooled = self.pooled(x)
        return {int(d): F.normalize(head(pooled), dim=1) for d, head in self.heads.items()}

    def train(self, mode: bool = True) -> ArticleEmbedderNet:
        # BatchNorm statistics stay frozen: batches of 2-3 categories are far from ImageNet's mix.
        super().train(mode)
        self.backbone.eval()
        return self


class ExportedEmbedder(nn.Module):
    """What goes into the ONNX file: normalised NCHW image batch -> unit vectors of one size."""

    def __init__(self, net: ArticleEmbedderNet, dims: int) -> None:
        super().__init__()
        self.net = net
        self.head = net.heads[str(dims)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.head(self.net.pooled(x)), dim=1)


class PooledBackbone(nn.Module):
    """The plain ImageNet baseline: global-average-pooled 1280-d features, L2-normalised."""

    def __init__(self, backbone: EfficientNetLite0) -> None:
        super().__init__()
        self.backbone = backbone

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.backbone.features(x).mean(dim=(2, 3)), dim=1)
