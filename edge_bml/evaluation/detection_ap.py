"""COCO-style average precision of detections: AP per category at IoU thresholds, mAP@0.5, mAP@[.5:.95].

Why our own: pycocotools is a dev/test dependency only (the runtime's ``edge-bml evaluate`` must not
need it), so this follows its rules without crowd regions, and ``tests/test_detection_ap.py`` checks it
matches pycocotools on real detections: per image and category, detections in score
order each take the unmatched ground-truth box of highest IoU at or above the threshold; precision
is made monotone and sampled at 101 recall points; categories with no ground truth are left out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from edge_bml.geometry import iou_matrix

IOU_THRESHOLDS = tuple(np.round(np.arange(0.5, 0.951, 0.05), 2).tolist())
RECALL_POINTS = np.linspace(0.0, 1.0, 101)


def labelled_boxes(image_info: dict, labels: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """An annotated image's article boxes (M, 4) float64 and their class ids (M,) int64 into ``labels``;
    articles of other categories are left out."""
    index = {label: i for i, label in enumerate(labels)}
    objects = [o for o in image_info.get("objects", []) if o["category"] in index]
    boxes = np.asarray([o["box"] for o in objects], np.float64).reshape(-1, 4)
    return boxes, np.asarray([index[o["category"]] for o in objects], np.int64)


def match_image(det_boxes: np.ndarray, det_scores: np.ndarray, gt_boxes: np.ndarray, threshold: float) -> np.ndarray:
    """True-positive flags of one image's detections of one category, in descending score order."""
    order = np.argsort(-np.asarray(det_scores), kind="stable")
    ious = iou_matrix(np.asarray(det_boxes)[order], gt_boxes)
    taken = np.zeros(ious.shape[1], bool)
    hits = np.zeros(len(order), bool)
    for i in range(len(order)):
        candidates = np.where(taken, -1.0, ious[i])
        if candidates.size and candidates.max() >= threshold:
            j = int(candidates.argmax())
            taken[j] = True
            hits[i] = True
    return hits


def average_precision(scores: np.ndarray, hits: np.ndarray, num_gt: int) -> float:
    """101-point interpolated AP from all detections' scores and true-positive flags."""
    if num_gt == 0:
        return float("nan")
    order = np.argsort(-np.asarray(scores), kind="stable")
    tp = np.cumsum(np.asarray(hits, bool)[order])
    fp = np.cumsum(~np.asarray(hits, bool)[order])
    recall = tp / num_gt
    precision = tp / np.maximum(tp + fp, 1e-12)
    precision = np.maximum.accumulate(precision[::-1])[::-1] if precision.size else precision
    index = np.searchsorted(recall, RECALL_POINTS, side="left")
    sampled = np.array([precision[i] if i < precision.size else 0.0 for i in index])
    return float(sampled.mean())


@dataclass
class DetectionEvaluator:
    """Collects detections and ground truth image by image, then scores them."""

    labels: tuple[str, ...]
    max_detections: int = 100
    _records: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = field(default_factory=list)

    def add(self, det_xyxy, det_scores, det_classes, gt_xyxy, gt_classes) -> None:
        """One image: detections (boxes, scores, class ids) and ground truth (boxes, class ids)."""
        det_scores = np.asarray(det_scores, np.float64).reshape(-1)
        keep = np.argsort(-det_scores, kind="stable")[: self.max_detections]
        self._records.append(
            (
                np.asarray(det_xyxy, np.float64).reshape(-1, 4)[keep],
                det_scores[keep],
                np.asarray(det_classes, np.int64).reshape(-1)[keep],
                np.asarray(gt_xyxy, np.float64).reshape(-1, 4),
                np.asarray(gt_classes, np.int64).reshape(-1),
            )
        )

    def ap(self, class_id: int, threshold: float) -> float:
        """AP of one category at one IoU threshold (NaN where it has no ground truth)."""
        scores, hits, num_gt = [], [], 0
        for boxes, det_scores, classes, gt_boxes, gt_classes in self._records:
            gt = gt_boxes[gt_classes == class_id]
            mine = classes == class_id
            num_gt += len(gt)
            order = np.argsort(-det_scores[mine], kind="stable")
            scores.append(det_scores[mine][order])
            hits.append(match_image(boxes[mine][order], det_scores[mine][order], gt, threshold))
        return average_precision(np.concatenate(scores or [[]]), np.concatenate(hits or [[]]).astype(bool), num_gt)

    def _ranked(self, class_id: int, iou: float, floor: float) -> tuple[np.ndarray, np.ndarray, int]:
        """One category's detections over ``floor``, best first: (scores, cumulative true positives, ground truths)."""
        scores, hits, num_gt = [], [], 0
        for boxes, det_scores, classes, gt_boxes, gt_classes in self._records:
            mine = (classes == class_id) & (det_scores >= floor)
            num_gt += int((gt_classes == class_id).sum())
            order = np.argsort(-det_scores[mine], kind="stable")
            scores.append(det_scores[mine][order])
            hits.append(match_image(boxes[mine][order], det_scores[mine][order], gt_boxes[gt_classes == class_id], iou))
        all_scores = np.concatenate(scores or [[]])
        order = np.argsort(-all_scores, kind="stable")
        tp = np.cumsum(np.concatenate(hits or [[]]).astype(bool)[order])
        return all_scores[order], tp, num_gt

    def best_f1_threshold(
        self, class_id: int, *, iou: float = 0.5, floor: float = 0.05, min_precision: float = 0.0
    ) -> float | None:
        """The score threshold that maximises F1 for one category (None where it has no ground truth).

        ``min_precision``: only thresholds at which at least that share of the shown boxes are right
        compete (a shopper sees every shown box); where none reaches it, the most precise threshold.
        """
        scores, tp, num_gt = self._ranked(class_id, iou, floor)
        if num_gt == 0:
            return None
        if scores.size == 0 or tp[-1] == 0:
            return 0.5
        shown = np.arange(1, tp.size + 1)
        f1 = 2 * tp / (shown + num_gt)
        precise = tp / shown >= min_precision
        if not precise.any():
            return float(scores[int(np.argmax(tp / shown))])
        return float(scores[int(np.argmax(np.where(precise, f1, -1.0)))])

    def operating_point(self, class_id: int, threshold: float, *, iou: float = 0.5) -> dict:
        """Precision and recall of one category's boxes at or over ``threshold``."""
        scores, tp, num_gt = self._ranked(class_id, iou, threshold)
        shown = int(scores.size)
        right = int(tp[-1]) if shown else 0
        return {
            "threshold": round(float(threshold), 3),
            "precision": round(right / shown, 3) if shown else None,
            "recall": round(right / num_gt, 3) if num_gt else None,
            "shown": shown,
            "ground_truth": num_gt,
        }

    def summary(self) -> dict:
        """mAP@0.5, mAP@[.5:.95] and AP per category (only categories with ground truth count)."""
        ap50, ap_all = {}, {}
        for class_id, label in enumerate(self.labels):
            per_threshold = [self.ap(class_id, t) for t in IOU_THRESHOLDS]
            if np.isnan(per_threshold[0]):
                continue
            ap50[label] = round(per_threshold[0], 4)
            ap_all[label] = round(float(np.mean(per_threshold)), 4)
        return {
            "map50": round(float(np.mean(list(ap50.values()))), 4) if ap50 else float("nan"),
            "map50_95": round(float(np.mean(list(ap_all.values()))), 4) if ap_all else float("nan"),
            "ap50_per_category": ap50,
            "ap50_95_per_category": ap_all,
            "images": len(self._records),
        }
