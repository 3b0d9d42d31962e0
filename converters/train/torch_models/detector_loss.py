"""Training loss of the article detector: task-aligned assignment (as in YOLOv8/TOOD), BCE with
IoU-aware soft targets for the classes, and GIoU for the boxes.

Each ground-truth box takes the (up to) ``top_k`` grid points, among those inside it or nearest
its centre on each level, with the highest ``score ** alpha * iou ** beta``; their class target
is that metric rescaled to the box's best IoU, so scores learn to rank boxes by localisation.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def pairwise_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """IoU (M, N) between xyxy boxes a (M, 4) and b (N, 4).

    Why our own: the assignment needs it in torch on the training tensors (``geometry.iou_matrix`` is
    numpy), and torchvision's ``box_iou``, the same six lines, is not a dependency of the train extra.
    """
    lt = torch.maximum(a[:, None, :2], b[None, :, :2])
    rb = torch.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = (rb - lt).clamp(min=0).prod(2)
    area_a = (a[:, 2:] - a[:, :2]).clamp(min=0).prod(1)
    area_b = (b[:, 2:] - b[:, :2]).clamp(min=0).prod(1)
    return inter / (area_a[:, None] + area_b[None] - inter + 1e-9)


def giou_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """1 - generalised IoU of matched xyxy boxes (K, 4)."""
    lt = torch.maximum(pred[:, :2], target[:, :2])
    rb = torch.minimum(pred[:, 2:], target[:, 2:])
    inter = (rb - lt).clamp(min=0).prod(1)
    area_p = (pred[:, 2:] - pred[:, :2]).clamp(min=0).prod(1)
    area_t = (target[:, 2:] - target[:, :2]).clamp(min=0).prod(1)
    union = area_p + area_t - inter + 1e-9
    hull = (torch.maximum(pred[:, 2:], target[:, 2:]) - torch.minimum(pred[:, :2], target[:, :2])).prod(1) + 1e-9
    return 1 - (inter / union - (hull - union) / hull)


@torch.no_grad()
def assign(
    scores: torch.Tensor,
    boxes: torch.Tensor,
    points: torch.Tensor,
    strides: torch.Tensor,
    gt_boxes: torch.Tensor,
    gt_labels: torch.Tensor,
    *,
    top_k: int = 10,
    alpha: float = 0.5,
    beta: float = 6.0,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Targets for one image: class scores (N, C), boxes (N, 4) and the foreground mask (N,)."""
    n, c = scores.shape
    target_scores = torch.zeros(n, c)
    if gt_boxes.shape[0] == 0:
        return target_scores, torch.zeros(n, 4), torch.zeros(n, dtype=torch.bool)
    ious = pairwise_iou(gt_boxes, boxes)
    cls = scores[:, gt_labels].T
    x, y = points[:, 0][None], points[:, 1][None]
    inside = (x > gt_boxes[:, :1]) & (x < gt_boxes[:, 2:3]) & (y > gt_boxes[:, 1:2]) & (y < gt_boxes[:, 3:])
    centre = (gt_boxes[:, :2] + gt_boxes[:, 2:]) / 2
    half = strides[None] / 2 + 1e-3
    near = ((x - centre[:, :1]).abs() <= half) & ((y - centre[:, 1:]).abs() <= half)
    candidate = inside | near
    metric = cls.pow(alpha) * ious.pow(beta) * candidate
    chosen = torch.zeros_like(candidate)
    chosen.scatter_(1, metric.topk(min(top_k, n), dim=1).indices, True)
    chosen &= candidate
    foreground = chosen.any(0)
    owner = torch.where(chosen.sum(0) > 1, (ious * chosen).argmax(0), chosen.float().argmax(0))
    mask = F.one_hot(owner, gt_boxes.shape[0]).T.bool() & foreground[None]
    metric = metric * mask
    best_iou = (ious * mask).amax(1, keepdim=True)
    norm = (metric * best_iou / (metric.amax(1, keepdim=True) + 1e-9)).amax(0)
    target_scores = F.one_hot(gt_labels[owner], c).float() * (norm * foreground)[:, None]
    return target_scores, gt_boxes[owner], foreground


def detection_loss(
    logits: torch.Tensor,
    boxes: torch.Tensor,
    points: torch.Tensor,
    strides: torch.Tensor,
    targets: list[tuple[torch.Tensor, ...]],
    *,
    box_weight: float = 5.0,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Loss of a batch: logits (B, C, N), boxes (B, N, 4), targets per image (boxes (M, 4), labels (M,)
    and optionally ignored class ids (K,)).

    An ignored class is present in the image but not boxed (a pseudo-labelled photo's tagged article
    with no confident box): its column contributes no classification loss there, so it is not
    learned as background; it has no boxes, so it has no positives either.
    """
    scores = logits.detach().sigmoid().transpose(1, 2)
    cls_terms, box_terms, total_weight = [], [], logits.new_tensor(0.0)
    for i, target in enumerate(targets):
        gt_boxes, gt_labels = target[0], target[1]
        target_scores, target_boxes, fg = assign(scores[i], boxes[i].detach(), points, strides, gt_boxes, gt_labels)
        cls_weight = None
        if len(target) > 2 and target[2].numel():
            cls_weight = torch.ones_like(target_scores)
            cls_weight[:, target[2]] = (target_scores[:, target[2]] > 0).float()
        cls_terms.append(
            F.binary_cross_entropy_with_logits(logits[i].T, target_scores, weight=cls_weight, reduction="sum")
        )
        weight = target_scores.sum(1)
        total_weight = total_weight + weight.sum()
        if fg.any():
            box_terms.append((giou_loss(boxes[i][fg], target_boxes[fg]) * weight[fg]).sum())
    norm = total_weight.clamp(min=1.0)
    cls_loss = torch.stack(cls_terms).sum() / norm
    box_loss = torch.stack(box_terms).sum() / norm if box_terms else logits.new_tensor(0.0)
    loss = cls_loss + box_weight * box_loss
    return loss, {"cls": float(cls_loss.detach()), "box": float(box_loss.detach())}
