"""Whether re-scoring the detector's boxes with the pose and the photo's other boxes would raise its mAP (#13).

    .venv/bin/python -m benchmarks.rescoring_study [--model quantized_models/article_detector_int8_tflite]

The network sees the person crop, not the keypoints, and scores each box alone. A re-scorer could add
what it does not see: where the box sits in torso units from the hips and shoulders, its size, whether
a better box of its category is already in the photo (a second belt), and whether a box of another
category sits on it. This fits, per category, an L2-regularised logistic regression from those features
to "this box is right" (it matches a labelled article at IoU >= 0.5, in score order, as AP counts) on
CCP train with the pose stage's person crop, and scores CCP val with the re-scored confidences. The
detector was trained on CCP train (it scores its boxes there better than on val), so each setting is
also fitted on one half of val and scored on the other (two folds). Nothing ships from this study.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from edge_bml.data_paths import data_dir
from edge_bml.evaluation.detection_ap import DetectionEvaluator, labelled_boxes, match_image
from edge_bml.evaluation.detector_eval import EVAL_SCORE_THRESHOLD, load_annotations
from edge_bml.geometry import iou_matrix
from edge_bml.image_io import read_image
from edge_bml.manifest import load_manifest
from edge_bml.stages.detector import ArticleDetector
from edge_bml.stages.pose import PoseEstimator

FEATURE_SETS = {
    "pose": (
        *("logit", "hip_dy", "hip_dy2", "shoulder_dy", "shoulder_dy2"),
        *("mid_dx2", "log_w", "log_h", "log_w2", "log_h2"),
    ),
    "context": ("logit", "first", "second", "duplicate_iou", "other_score"),
}
FEATURE_SETS["both"] = (*FEATURE_SETS["pose"], *FEATURE_SETS["context"][1:])
PENALTIES = (0.1, 1.0, 10.0)
MIN_BOXES, MIN_RIGHT = 20, 3


def _features(xyxy: np.ndarray, confidence: np.ndarray, class_id: np.ndarray, keypoints, size) -> dict:
    """Each feature of each box, by name."""
    xyxy, confidence = xyxy.astype(np.float64), confidence.astype(np.float64)
    if keypoints is None:  # nobody found: a standing person filling the photo
        width, height = size
        shoulder, hip, unit = np.array([width / 2, height * 0.25]), np.array([width / 2, height * 0.55]), height * 0.3
    else:
        shoulder, hip = keypoints[[11, 12], :2].mean(0), keypoints[[23, 24], :2].mean(0)
        unit = max(float(np.linalg.norm(shoulder - hip)), 1.0)
    cx, cy = (xyxy[:, 0] + xyxy[:, 2]) / 2, (xyxy[:, 1] + xyxy[:, 3]) / 2
    log_w = np.log(np.maximum(xyxy[:, 2] - xyxy[:, 0], 1.0) / unit)
    log_h = np.log(np.maximum(xyxy[:, 3] - xyxy[:, 1], 1.0) / unit)
    hip_dy, shoulder_dy = (cy - hip[1]) / unit, (cy - shoulder[1]) / unit
    mid_dx = (cx - (shoulder[0] + hip[0]) / 2) / unit
    p = np.clip(confidence, 1e-4, 1 - 1e-4)
    rank, duplicate, other = np.zeros(len(p)), np.zeros(len(p)), np.zeros(len(p))
    ious = iou_matrix(xyxy, xyxy)
    for i in range(len(p)):
        better_same = (confidence > confidence[i]) & (class_id == class_id[i])
        rank[i] = better_same.sum()
        duplicate[i] = ious[i, better_same].max() if better_same.any() else 0.0
        on_it = (class_id != class_id[i]) & (ious[i] > 0.5)
        other[i] = confidence[on_it].max() if on_it.any() else 0.0
    return {
        "logit": np.log(p / (1 - p)), "hip_dy": hip_dy, "hip_dy2": hip_dy**2, "shoulder_dy": shoulder_dy,
        "shoulder_dy2": shoulder_dy**2, "mid_dx2": mid_dx**2, "log_w": log_w, "log_h": log_h, "log_w2": log_w**2,
        "log_h2": log_h**2, "first": (rank == 0) * 1.0, "second": (rank == 1) * 1.0, "duplicate_iou": duplicate,
        "other_score": other,
    }  # fmt: skip


def _right(found, gt_boxes: np.ndarray, gt_classes: np.ndarray) -> np.ndarray:
    """Whether each box matches a labelled article, as AP@0.5 counts it."""
    right = np.zeros(len(found), bool)
    for category in np.unique(found.class_id):
        members = np.flatnonzero(found.class_id == category)
        order = np.argsort(-found.confidence[members], kind="stable")
        right[members[order]] = match_image(
            found.xyxy[members], found.confidence[members], gt_boxes[gt_classes == category], 0.5
        )
    return right


def _fit(x: np.ndarray, y: np.ndarray, penalty: float) -> np.ndarray:
    """Logistic regression weights (last: bias) by Newton's method; the bias is not penalised."""
    xb = np.hstack([x, np.ones((len(x), 1))])
    ridge = penalty * np.eye(xb.shape[1])
    ridge[-1, -1] = 1e-6
    w = np.zeros(xb.shape[1])
    for _ in range(50):
        p = 1 / (1 + np.exp(-np.clip(xb @ w, -30, 30)))
        hessian = (xb * (p * (1 - p))[:, None]).T @ xb + ridge
        w -= np.linalg.solve(hessian, xb.T @ (p - y) + ridge @ w)
    return w


def _fit_all(photos: list[dict], names: tuple[str, ...], penalty: float, num_classes: int) -> dict:
    x = np.vstack([np.column_stack([p["features"][n] for n in names]) for p in photos])
    y = np.concatenate([p["right"] for p in photos]).astype(np.float64)
    classes = np.concatenate([p["found"].class_id for p in photos])
    fitted = {}
    for category in range(num_classes):
        mask = classes == category
        if mask.sum() >= MIN_BOXES and y[mask].sum() >= MIN_RIGHT:  # else the detector's own score stays
            fitted[category] = _fit(x[mask], y[mask], penalty)
    return fitted


def _rescored(photo: dict, names: tuple[str, ...], fitted: dict) -> np.ndarray:
    confidence = photo["found"].confidence.astype(np.float64).copy()
    x = np.column_stack([photo["features"][n] for n in names])
    for category, w in fitted.items():
        mask = photo["found"].class_id == category
        confidence[mask] = 1 / (1 + np.exp(-(x[mask] @ w[:-1] + w[-1])))
    return confidence


def _map50(photos: list[dict], labels: tuple[str, ...], scores: list[np.ndarray]) -> float:
    evaluator = DetectionEvaluator(labels, max_detections=100)
    for photo, confidence in zip(photos, scores):
        evaluator.add(photo["found"].xyxy, confidence, photo["found"].class_id, photo["gt_boxes"], photo["gt_classes"])
    return evaluator.summary()["map50"]


def _run(detector: ArticleDetector, images: list[dict]) -> list[dict]:
    photos = []
    with PoseEstimator.create_from_options() as pose:
        for info in images:
            image = read_image(info["path"])
            main = pose(image).main
            found = detector(image, None if main is None else main.person_box, score_threshold=EVAL_SCORE_THRESHOLD)
            gt_boxes, gt_classes = labelled_boxes(info, detector.labels)
            keypoints = None if main is None else main.keypoints
            photos.append({
                "split": info["split"], "found": found, "gt_boxes": gt_boxes, "gt_classes": gt_classes,
                "features": _features(found.xyxy, found.confidence, found.class_id, keypoints, image.shape[1::-1]),
                "right": _right(found, gt_boxes, gt_classes),
            })  # fmt: skip
    return photos


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=Path("quantized_models/article_detector_int8_tflite"))
    args = parser.parse_args(argv)

    images = load_annotations(data_dir() / "ccp" / "annotations.json")
    with ArticleDetector(load_manifest(args.model)) as detector:
        labels = detector.labels
        photos = _run(detector, images)
    train = [p for p in photos if p["split"] == "train"]
    val = [p for p in photos if p["split"] == "val"]
    folds = (val[0::2], val[1::2])
    print(f"{args.model.name}, pose crop: mAP@0.5 as scored by the detector: train {len(train)} photos "
          f"{_map50(train, labels, [p['found'].confidence for p in train]):.4f}, val {len(val)} photos "
          f"{_map50(val, labels, [p['found'].confidence for p in val]):.4f}")  # fmt: skip
    print("re-scored val mAP@0.5: fitted on train | two folds of val")
    for set_name, names in FEATURE_SETS.items():
        for penalty in PENALTIES:
            on_train = _fit_all(train, names, penalty, len(labels))
            from_train = _map50(val, labels, [_rescored(p, names, on_train) for p in val])
            crossed = [_fit_all(fold, names, penalty, len(labels)) for fold in reversed(folds)]
            photos_cv = [*folds[0], *folds[1]]
            scores_cv = [_rescored(p, names, crossed[0]) for p in folds[0]]
            scores_cv += [_rescored(p, names, crossed[1]) for p in folds[1]]
            print(f"  {set_name:8s} L2 {penalty:5}: {from_train:.4f} | {_map50(photos_cv, labels, scores_cv):.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
