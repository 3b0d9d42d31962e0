"""Batch-hard triplet loss on unit vectors (Hermans et al. 2017), with a mask for valid negatives."""

from __future__ import annotations

import torch


def batch_hard_triplet(
    anchors: torch.Tensor,
    anchor_labels: torch.Tensor,
    pool: torch.Tensor,
    pool_labels: torch.Tensor,
    *,
    margin: float,
    same_anchor_pool: bool,
) -> torch.Tensor:
    """Mean over anchors of ``relu(d(a, hardest positive) - d(a, hardest negative) + margin)``.

    Distances are Euclidean between unit vectors. With ``same_anchor_pool`` the anchors are the
    pool itself and an anchor is never its own positive. Anchors without a positive or a negative
    in the pool are left out.

    Raises:
        ValueError: shapes of vectors and labels disagree.
    """
    if anchors.shape[0] != anchor_labels.shape[0] or pool.shape[0] != pool_labels.shape[0]:
        raise ValueError("each vector needs one label")
    dist = torch.sqrt(torch.clamp(2.0 - 2.0 * anchors @ pool.T, min=1e-9))
    same = anchor_labels[:, None] == pool_labels[None, :]
    if same_anchor_pool:
        same = same & ~torch.eye(len(anchors), dtype=torch.bool, device=anchors.device)
    diff = anchor_labels[:, None] != pool_labels[None, :]
    valid = same.any(dim=1) & diff.any(dim=1)
    if not valid.any():
        return anchors.sum() * 0.0
    hardest_pos = torch.where(same, dist, torch.zeros_like(dist)).max(dim=1).values
    hardest_neg = torch.where(diff, dist, torch.full_like(dist, 4.0)).min(dim=1).values
    return torch.relu(hardest_pos - hardest_neg + margin)[valid].mean()
