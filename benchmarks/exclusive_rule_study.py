"""How the exclusive-category rule was chosen (README, *Exclusive articles*; ``stages/exclusive_articles.py``).

    .venv/bin/python -m benchmarks.exclusive_rule_study [--model quantized_models/article_detector_int8_openvino]

On CCP's truth (all 804 photos, with the pose stage's landmarks): how many exclusive-category pairs the IoU
rule and a pose band rule would call contradictory. On val, with the detector's candidates: which box of a
shown conflict is right, chosen by score or by a pose-geometry prior fitted on train, and the shown true and
false positives with and without the rule. The README's figures came from the detector of commit c9ed5d5.
"""

from __future__ import annotations

import argparse
import itertools
import json

import numpy as np

from edge_bml.data_paths import data_dir
from edge_bml.evaluation.detection_ap import labelled_boxes, match_image
from edge_bml.geometry import iou_matrix
from edge_bml.image_io import read_image
from edge_bml.manifest import load_manifest
from edge_bml.model_registry import select_variant
from edge_bml.stages.detector import ArticleDetector
from edge_bml.stages.exclusive_articles import ExclusiveRule, resolve_exclusive
from edge_bml.stages.pose import PoseEstimator, PoseOptions

LOWER = ("pants", "shorts", "skirt", "dress")
PRIOR = ("top", "dress", "pants", "shorts", "skirt")


def _body_units(keypoints: np.ndarray, y: float) -> float | None:
    """``y`` in body units: shoulders 0, hips 1, knees 2, ankles 3 (extrapolated outside)."""
    ys = np.array([keypoints[[a, b], 1].mean() for a, b in ((11, 12), (23, 24), (25, 26), (27, 28))])
    if not np.all(np.diff(ys) > 0):
        return None
    if y < ys[0]:
        return float((y - ys[0]) / (ys[1] - ys[0]))
    if y > ys[3]:
        return float(3 + (y - ys[3]) / (ys[3] - ys[2]))
    return float(np.interp(y, ys, [0, 1, 2, 3]))


def _band_conflict(a, b, class_a: str, class_b: str, keypoints) -> bool:
    """Both boxes cover the upper thigh (lower-body garments) or the chest (top and dress), side by side."""
    shoulders, hips, knees = (keypoints[[i, j], 1].mean() for i, j in ((11, 12), (23, 24), (25, 26)))
    y = hips + 0.5 * (knees - hips) if class_a in LOWER and class_b in LOWER else shoulders + 0.5 * (hips - shoulders)
    overlap = min(a[2], b[2]) - max(a[0], b[0])
    narrower = max(1e-6, min(a[2] - a[0], b[2] - b[0]))
    return a[1] <= y <= a[3] and b[1] <= y <= b[3] and overlap / narrower > 0.5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", help="a detector variant folder (default: the registry's pick)")
    args = parser.parse_args()
    ccp = data_dir() / "ccp"
    images = json.loads((ccp / "annotations.json").read_text())["images"]
    manifest = load_manifest(args.model) if args.model else select_variant("detector")
    rule = ExclusiveRule()
    with ArticleDetector(manifest) as detector, PoseEstimator.create_from_options(PoseOptions()) as pose:
        labels = list(detector.labels)
        table = rule.pair_table(labels)
        detector.exclusive_enabled = False
        runs = []
        for image in images:
            photo = read_image(ccp / image["file"])
            main = pose(photo).main
            keypoints = None if main is None else main.keypoints
            found = detector(photo, None if main is None else main.person_box, score_threshold=0.01)
            runs.append((image, keypoints, found))
    thresholds = detector.class_thresholds
    truth = {"pairs": 0, "iou": 0, "pose_band": 0}
    feats = {c: [] for c in PRIOR}
    for image, keypoints, _ in runs:
        objects = [(o["category"], np.asarray(o["box"], float)) for o in image["objects"] if o["category"] in labels]
        for (ca, a), (cb, b) in itertools.combinations(objects, 2):
            if table[labels.index(ca), labels.index(cb)]:
                truth["pairs"] += 1
                truth["iou"] += bool(iou_matrix(a, b)[0, 0] > rule.iou)
                truth["pose_band"] += keypoints is not None and _band_conflict(a, b, ca, cb, keypoints)
        if image["split"] == "train" and keypoints is not None:
            for category, box in objects:
                top, bottom = _body_units(keypoints, box[1]), _body_units(keypoints, box[3])
                if category in feats and top is not None and bottom is not None:
                    feats[category].append((top, bottom))
    gauss = {}
    for category, rows in feats.items():
        values = np.asarray(rows)
        cov = np.cov(values.T) + np.eye(2) * 0.01
        gauss[category] = (values.mean(0), np.linalg.inv(cov), np.linalg.det(cov))

    def posterior(keypoints, box, category):
        top, bottom = _body_units(keypoints, box[1]), _body_units(keypoints, box[3])
        if category not in gauss or top is None or bottom is None:
            return 1.0
        x = np.array([top, bottom])
        like = {c: float(np.exp(-0.5 * (x - m) @ p @ (x - m)) / np.sqrt(d)) for c, (m, p, d) in gauss.items()}
        return like[category] / (sum(like.values()) + 1e-12)

    choice = {"score_right": 0, "prior_right": 0, "with_a_right_answer": 0}
    shown = {"without": [0, 0], "with": [0, 0]}
    for image, keypoints, found in runs:
        if image["split"] != "val":
            continue
        gt_boxes, gt_classes = labelled_boxes(image, labels)
        right = [
            bool(len(gt_boxes))
            and any(c == k and iou_matrix(found.xyxy[i], gt_boxes[j])[0, 0] >= 0.5 for j, c in enumerate(gt_classes))
            for i, k in enumerate(found.class_id)
        ]
        visible = np.nonzero(found.confidence >= thresholds[found.class_id])[0]
        overlaps = iou_matrix(found.xyxy, found.xyxy)
        for i, j in itertools.combinations(visible, 2):
            if table[found.class_id[i], found.class_id[j]] and overlaps[i, j] > rule.iou and (right[i] or right[j]):
                choice["with_a_right_answer"] += 1
                by_score = i if found.confidence[i] >= found.confidence[j] else j
                choice["score_right"] += right[by_score]
                if keypoints is None:
                    choice["prior_right"] += right[by_score]
                    continue
                names = [labels[found.class_id[i]], labels[found.class_id[j]]]
                scored = [found.confidence[k] * posterior(keypoints, found.xyxy[k], n) for k, n in zip((i, j), names)]
                choice["prior_right"] += right[i if scored[0] >= scored[1] else j]
        resolved = resolve_exclusive(
            found.xyxy,
            found.confidence,
            found.class_id,
            table=table,
            rule=rule,
            shown_thresholds=thresholds,
            worn_over=None,  # the rule as this study chose it, before the worn-over pairs
        )
        for key, confidence in (("without", found.confidence), ("with", resolved)):
            keep = confidence >= thresholds[found.class_id]
            for category in range(len(labels)):
                mine = keep & (found.class_id == category)
                order = np.argsort(-confidence[mine])
                hits = match_image(
                    found.xyxy[mine][order], confidence[mine][order], gt_boxes[gt_classes == category], 0.5
                )
                shown[key][0] += int(hits.sum())
                shown[key][1] += int((~hits.astype(bool)).sum())
    print(
        json.dumps(
            {
                "model": manifest.name,
                "truth_exclusive_pairs": truth,
                "survivor": choice,
                "shown_true_false_positives": shown,
            },
            indent=2,
            default=int,
        )
    )


if __name__ == "__main__":
    main()
