"""MediaPipe's weighted non-maximum suppression: overlapping detections are averaged, score-weighted.

Why our own: BlazePose's decoder blends each cluster's boxes and keypoints by score, as MediaPipe does;
cv2.dnn.NMSBoxes and torchvision.ops.nms only keep the best box of a cluster and drop the others.
"""

from __future__ import annotations

import numpy as np

from edge_bml.geometry import box_iou


def weighted_nms(
    boxes: np.ndarray, scores: np.ndarray, points: np.ndarray, *, iou_threshold: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cluster (N, 4) xyxy ``boxes`` by IoU with the best remaining one and average each cluster.

    ``points`` is (N, K, 2) and is averaged with the same weights. Returns (boxes, scores, points)
    of the clusters, best first; each cluster keeps its best member's score.
    """
    order = np.argsort(-scores)
    boxes, scores, points = boxes[order], scores[order], points[order]
    remaining = np.ones(len(scores), bool)
    out_boxes, out_scores, out_points = [], [], []
    for i in range(len(scores)):
        if not remaining[i]:
            continue
        members = remaining & (box_iou(boxes[i], boxes) > iou_threshold)
        members[i] = True
        weights = scores[members][:, None]
        total = weights.sum()
        out_boxes.append((boxes[members] * weights).sum(0) / total)
        out_points.append((points[members] * weights[:, :, None]).sum(0) / total)
        out_scores.append(scores[i])
        remaining &= ~members
    if not out_scores:
        return np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros((0,) + points.shape[1:], np.float32)
    return (
        np.asarray(out_boxes, np.float32),
        np.asarray(out_scores, np.float32),
        np.asarray(out_points, np.float32),
    )
