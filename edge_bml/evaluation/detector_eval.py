"""Evaluate the article detector on a CCP-format ``annotations.json``, as the pipeline runs it.

The person crop comes from the pose stage (``PersonPose.person_box``, as in production) or from
the annotated ground-truth ``person_box``; photos where the pose stage finds nobody fall back to
the whole photo, and their articles still count.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from edge_bml.catalog.progress import Progress
from edge_bml.errors import EvaluationDataError
from edge_bml.evaluation.detection_ap import DetectionEvaluator, labelled_boxes
from edge_bml.geometry import iou_matrix
from edge_bml.image_io import read_image
from edge_bml.stages.detector import ArticleDetector
from edge_bml.stages.exclusive_articles import ExclusiveRule, exclusive_conflicts

EVAL_SCORE_THRESHOLD = 0.001
PERSON_CROPS = ("pose", "gt")
# Long garments shown as pants (#29): a shown pants box that no annotated pants box matches (IoU >= 0.5)
# and that lies at least this share inside an annotated dress, skirt or boot "calls" that article pants.
INSIDE_SHARE = 0.5


# The share of shown boxes of a category that must be right for a threshold to be chosen: the F1-best
# threshold alone showed skirts at score 0.07, wrong two times in three on CCP val (a shopper then gets
# skirts for a dress). At 0.6, the INT8 TFLite detector's skirt threshold moved to 0.69 (precision 0.31 ->
# 0.71) and no other; see the README for each variant.
SHOWN_MIN_PRECISION = 0.6


def load_annotations(path: Path, *, split: str | None = None) -> list[dict]:
    """The images of a CCP-format annotations file, of ``split`` when given, each with ``path`` set.

    Raises:
        EvaluationDataError: the file is missing or malformed, or no image is in ``split``.
    """
    if not path.is_file():
        raise EvaluationDataError(f"no annotations at {path}")
    try:
        images = json.loads(path.read_text())["images"]
    except (json.JSONDecodeError, KeyError, TypeError) as error:
        raise EvaluationDataError(f"{path} is not a CCP-format annotations file: {error}") from error
    chosen = [dict(image) for image in images if split is None or image.get("split") == split]
    if not chosen:
        raise EvaluationDataError(f"{path} has no images in split {split!r}")
    for image in chosen:
        image["path"] = path.parent / image["file"]
    return chosen


def evaluation_person_box(image_info: dict, image: np.ndarray, pose_estimator=None):
    """The box an evaluation crops around: the pose stage's main person (as in production) or, without a
    pose estimator, the annotated ``person_box``; None where there is none."""
    if pose_estimator is None:
        return image_info.get("person_box")
    main = pose_estimator(image).main
    return None if main is None else main.person_box


def evaluate_detector(
    detector: ArticleDetector,
    images: list[dict],
    *,
    person_crop: str = "pose",
    pose_estimator=None,
    progress: bool = True,
    min_precision: float = SHOWN_MIN_PRECISION,
) -> dict:
    """AP per category, mAP@0.5 and mAP@[.5:.95] of ``detector`` on ``images`` (from ``load_annotations``).

    Also counts contradictions: pairs of shown boxes of mutually exclusive categories (the detector's
    rule, else the default one) at IoU > the rule's threshold; gives each category's precision and
    recall at the detector's shown threshold (``shown_operating_points``) and the F1-best thresholds
    among those at least ``min_precision`` precise (``best_f1_thresholds``).

    Raises:
        ValueError: ``person_crop`` is not 'pose' or 'gt', or 'pose' without a pose estimator.
    """
    if person_crop not in PERSON_CROPS:
        raise ValueError(f"person_crop must be one of {PERSON_CROPS}, got {person_crop!r}")
    if person_crop == "pose" and pose_estimator is None:
        raise ValueError("person_crop='pose' needs a pose estimator")
    labels = detector.labels
    evaluator = DetectionEvaluator(labels, max_detections=100)
    rule = detector.exclusive or ExclusiveRule()
    table = rule.pair_table(labels)
    no_person = contradictions = photos_with_contradictions = 0
    bar = Progress(len(images), label="evaluating") if progress else None
    confusion = np.zeros((len(labels), len(labels) + 1), np.int64)  # last column: missed
    long_garments = LongGarmentCounts()
    for image_info in images:
        image = read_image(image_info["path"])
        box = evaluation_person_box(image_info, image, pose_estimator if person_crop == "pose" else None)
        no_person += box is None
        found = detector(image, box, score_threshold=EVAL_SCORE_THRESHOLD)
        gt_boxes, gt_classes = labelled_boxes(image_info, labels)
        evaluator.add(found.xyxy, found.confidence, found.class_id, gt_boxes, gt_classes)
        shown = found[detector.shown(found)]
        _count_confusion(confusion, shown, gt_boxes, gt_classes)
        long_garments.add(image_info, shown, labels)
        pairs = len(exclusive_conflicts(shown.xyxy, shown.class_id, table, rule.iou))
        contradictions += pairs
        photos_with_contradictions += pairs > 0
        if bar is not None:
            bar.update()
    if bar is not None:
        bar.close()
    result = evaluator.summary()
    thresholds = {label: evaluator.best_f1_threshold(i, min_precision=min_precision) for i, label in enumerate(labels)}
    operating = {
        label: evaluator.operating_point(i, float(detector.class_thresholds[i])) for i, label in enumerate(labels)
    }
    result.update(
        person_crop=person_crop,
        images_without_person=no_person,
        exclusive_resolved=detector.exclusive_enabled,
        contradictions={"pairs": contradictions, "photos": photos_with_contradictions, "rule": rule.to_json()},
        confusion={"true": list(labels), "detected": [*labels, "missed"], "matrix": confusion.tolist()},
        long_garments_as_pants=long_garments.summary(),
        # Rounded down: a threshold rounded up would hide the very box the best cut ends on.
        best_f1_thresholds={k: math.floor(v * 1000) / 1000 for k, v in thresholds.items() if v is not None},
        best_f1_min_precision=min_precision,
        shown_operating_points=operating,
    )
    return result


def _count_confusion(confusion: np.ndarray, shown, gt_boxes: np.ndarray, gt_classes: np.ndarray) -> None:
    """Each true box counts under the category of the shown detection that overlaps it most (IoU >= 0.5),
    or under 'missed'."""
    if len(gt_boxes) == 0:
        return
    missed = confusion.shape[1] - 1
    if len(shown) == 0:
        np.add.at(confusion, (gt_classes, missed), 1)
        return
    overlaps = iou_matrix(gt_boxes, shown.xyxy)
    best = overlaps.argmax(1)
    hit = overlaps[np.arange(len(gt_boxes)), best] >= 0.5
    columns = np.where(hit, shown.class_id[best], missed)
    np.add.at(confusion, (gt_classes, columns), 1)


def _inside_share(inner: np.ndarray, outer: np.ndarray) -> float:
    """The share of box ``inner``'s area that lies inside box ``outer`` (xyxy)."""
    width = max(0.0, min(inner[2], outer[2]) - max(inner[0], outer[0]))
    height = max(0.0, min(inner[3], outer[3]) - max(inner[1], outer[1]))
    area = max((inner[2] - inner[0]) * (inner[3] - inner[1]), 1e-9)
    return float(width * height / area)


class LongGarmentCounts:
    """How often the shown boxes call a long garment pants (#29), over annotated dresses and skirts and
    over annotated boots (CCP's fine label ``boots``).

    A shown ``pants`` box is false when no annotated pants box of the photo matches it (IoU >= 0.5). A
    dress or skirt is *shown as pants* when a false pants box lies at least ``INSIDE_SHARE`` inside it,
    and *as top + pants* when, besides, a shown ``top`` box lies that much inside it; a boot is *shown as
    pants* when it lies at least ``INSIDE_SHARE`` inside a false pants box (a boot is small against the
    pants box that swallows it).
    """

    def __init__(self) -> None:
        self.dresses_skirts = self.dresses_skirts_as_pants = self.dresses_skirts_as_top_pants = 0
        self.boots = self.boots_as_pants = 0

    def add(self, image_info: dict, shown, labels) -> None:
        """Count one photo's annotated articles against its shown detections (``Detections``)."""
        if "pants" not in labels:
            return
        pants_id = labels.index("pants")
        top_id = labels.index("top") if "top" in labels else -1
        objects = image_info.get("objects", [])
        true_pants = np.asarray([o["box"] for o in objects if o["category"] == "pants"], np.float64).reshape(-1, 4)
        shown_pants = shown.xyxy[shown.class_id == pants_id]
        if len(shown_pants) and len(true_pants):
            shown_pants = shown_pants[iou_matrix(shown_pants, true_pants).max(1) < 0.5]
        shown_tops = shown.xyxy[shown.class_id == top_id]
        for o in objects:
            box = np.asarray(o["box"], np.float64)
            if o["category"] in ("dress", "skirt"):
                self.dresses_skirts += 1
                if any(_inside_share(p, box) >= INSIDE_SHARE for p in shown_pants):
                    self.dresses_skirts_as_pants += 1
                    self.dresses_skirts_as_top_pants += any(_inside_share(t, box) >= INSIDE_SHARE for t in shown_tops)
            elif o["category"] == "footwear" and "boots" in o.get("fine", []):
                self.boots += 1
                self.boots_as_pants += any(_inside_share(box, p) >= INSIDE_SHARE for p in shown_pants)

    def summary(self) -> dict:
        """Counts and shares (None where there is no such article)."""

        def share(part: int, whole: int) -> float | None:
            return round(part / whole, 4) if whole else None

        return {
            "dresses_skirts": self.dresses_skirts,
            "dresses_skirts_as_pants": self.dresses_skirts_as_pants,
            "dresses_skirts_as_top_pants": self.dresses_skirts_as_top_pants,
            "share_dresses_skirts_as_pants": share(self.dresses_skirts_as_pants, self.dresses_skirts),
            "boots": self.boots,
            "boots_as_pants": self.boots_as_pants,
            "share_boots_as_pants": share(self.boots_as_pants, self.boots),
            "inside_share": INSIDE_SHARE,
        }
