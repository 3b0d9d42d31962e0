"""Supervised contrastive loss (Khosla et al. 2020) on unit vectors; NT-Xent when each label has two views."""

from __future__ import annotations

import torch
from torch.nn import functional as F


def supervised_contrastive(vectors: torch.Tensor, labels: torch.Tensor, *, temperature: float) -> torch.Tensor:
    """Mean over vectors of ``-mean log softmax`` of its positives among all other vectors of the batch.

    Similarities are cosines divided by ``temperature``; a vector is never compared with itself.
    Vectors without a positive in the batch are left out.

    Raises:
        ValueError: shapes of vectors and labels disagree, or ``temperature`` is not positive.
    """
    if vectors.shape[0] != labels.shape[0]:
        raise ValueError("each vector needs one label")
    if temperature <= 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    count = vectors.shape[0]
    self_mask = torch.eye(count, dtype=torch.bool, device=vectors.device)
    logits = (vectors @ vectors.T / temperature).masked_fill(self_mask, float("-inf"))
    log_prob = F.log_softmax(logits, dim=1)
    positive = (labels[:, None] == labels[None, :]) & ~self_mask
    has_positive = positive.any(dim=1)
    if not has_positive.any():
        return vectors.sum() * 0.0
    mean_log_prob = torch.where(positive, log_prob, torch.zeros_like(log_prob)).sum(dim=1) / positive.sum(dim=1).clamp(
        min=1
    )
    return -mean_log_prob[has_positive].mean()
