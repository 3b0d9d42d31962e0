"""The detector's training-only parsing head and its loss (``train detector --parse-weight``).

It reads the pyramid's stride-8 level and predicts each cell's parser-class shares
(``detector_parse_targets``); it is not part of ``ArticleDetector``, so checkpoints' ``model`` entry,
the ONNX export and every quantization route see the plain detector.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from converters.train.torch_models.article_detector import separable


class ParseHead(nn.Module):
    """A separable convolution, then per-cell logits of ``num_classes`` parser classes."""

    def __init__(self, channels: int, num_classes: int) -> None:
        super().__init__()
        self.body = separable(channels)
        self.out = nn.Conv2d(channels, num_classes, 1)

    def forward(self, level: torch.Tensor) -> torch.Tensor:
        return self.out(self.body(level))


def parse_loss(logits: torch.Tensor, shares: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of the logits (B, C, h, w) against the class shares (B, C, h, w), averaged over the
    cells of weight 1 (B, h, w); 0 when no cell has a target."""
    entropy = -(shares * F.log_softmax(logits, 1)).sum(1)
    return (entropy * weight).sum() / weight.sum().clamp(min=1.0)
