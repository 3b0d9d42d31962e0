"""Evaluate the garment parser on CCP's pixel label maps, as the pipeline runs it.

The person crop comes from the pose stage (``PersonPose.person_box``, as in production) or from the
annotated ``person_box``; photos where the pose stage finds nobody are parsed whole. Ground truth is
CCP's label map mapped to the parser's classes (``edge_bml.data_fetch.parser_labels``); every pixel
of the photo counts, those outside the person crop included (the parser calls them background).

Figures: pixel accuracy, IoU per class and their mean (mIoU over the 15 classes, and over the 12
article classes) from one confusion matrix over all photos. As extra figures, article boxes are
derived from the parsed masks by CCP's own box rule (``edge_bml.data_fetch.article_boxes``) and
scored against the annotated boxes with the detector's COCO-style AP (``detection_ap``), once with
the class's mean max-softmax probability as confidence and once with its pixel fraction of the crop.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import cv2
import numpy as np

from edge_bml.catalog.progress import Progress
from edge_bml.data_fetch.article_boxes import article_objects
from edge_bml.data_fetch.parser_labels import ARTICLE_CLASSES, ccp_lookup
from edge_bml.errors import EvaluationDataError
from edge_bml.evaluation.detection_ap import DetectionEvaluator, labelled_boxes
from edge_bml.evaluation.detector_eval import evaluation_person_box, load_annotations
from edge_bml.image_io import read_image
from edge_bml.stages.parser import GarmentParser, ParseResult

PERSON_BOXES = ("pose", "annotated")


def load_parser_annotations(path: Path, *, split: str | None = None) -> tuple[list[dict], np.ndarray]:
    """The images of a CCP annotations file (as ``load_annotations``) and its fine-label -> parser-class table.

    Raises:
        EvaluationDataError: the file is missing or malformed, has no label names and categories, or no
        image is in ``split``.
    """
    images = load_annotations(path, split=split)
    try:
        data = json.loads(path.read_text())
        table = ccp_lookup(data["labels"], data["categories"])
    except (KeyError, TypeError, ValueError) as error:
        raise EvaluationDataError(f"{path} has no usable 'labels' and 'categories' for the parser: {error}") from error
    return images, table


def read_ground_truth(image_info: dict, table: np.ndarray) -> np.ndarray:
    """The annotated label map of one image as parser class ids (H, W) uint8.

    Raises:
        EvaluationDataError: the image has no label map, or it cannot be read as 8-bit single-channel.
    """
    if not image_info.get("label_map"):
        raise EvaluationDataError(f"image {image_info.get('id')} has no label_map")
    path = Path(image_info["path"]).parent.parent / image_info["label_map"]
    fine = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if fine is None or fine.ndim != 2 or fine.dtype != np.uint8:
        raise EvaluationDataError(f"{path} is not an 8-bit single-channel label map")
    return table[fine]


def mask_boxes(result: ParseResult) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Article boxes from the parsed masks by CCP's box rule: xyxy, class ids (into ``ARTICLE_CLASSES``),
    mean max-softmax confidence and the class's pixel fraction (of the labelled foreground)."""
    categories = {name: [name] for name in ARTICLE_CLASSES}
    objects = article_objects(result.labels, list(result.classes), categories)
    foreground = max(int(np.count_nonzero(result.labels)), 1)
    boxes, classes, softmax, fraction = [], [], [], []
    for found in objects:
        class_id = result.classes.index(found["category"])
        boxes.append(found["box"])
        classes.append(ARTICLE_CLASSES.index(found["category"]))
        softmax.append(float(result.scores[class_id]))
        fraction.append(found["area_px"] / foreground)
    return (
        np.asarray(boxes, np.float64).reshape(-1, 4),
        np.asarray(classes, np.int64),
        np.asarray(softmax, np.float64),
        np.asarray(fraction, np.float64),
    )


def iou_figures(confusion: np.ndarray, classes: tuple[str, ...]) -> dict:
    """Pixel accuracy, IoU per class, mIoU (all classes with pixels in truth or prediction) and article mIoU."""
    tp = np.diag(confusion).astype(np.float64)
    union = confusion.sum(0) + confusion.sum(1) - tp
    iou = {name: round(float(tp[i] / union[i]), 4) for i, name in enumerate(classes) if union[i] > 0}
    articles = [iou[name] for name in classes if name in ARTICLE_CLASSES and name in iou]
    return {
        "pixel_accuracy": round(float(tp.sum() / max(confusion.sum(), 1)), 4),
        "miou": round(float(np.mean(list(iou.values()))), 4) if iou else float("nan"),
        "miou_articles": round(float(np.mean(articles)), 4) if articles else float("nan"),
        "iou_per_class": iou,
    }


def evaluate_parser(
    parser: GarmentParser,
    images: list[dict],
    *,
    table: np.ndarray | None = None,
    person_box: str = "pose",
    pose_estimator=None,
    progress: bool = True,
) -> dict:
    """Pixel accuracy, mIoU, IoU per class and mask-box mAP of ``parser`` on ``images`` (``load_annotations``).

    ``table`` maps CCP fine labels to the parser's classes (default: read from the annotations file
    beside the first image).

    Raises:
        ValueError: ``person_box`` is not 'pose' or 'annotated', or 'pose' without a pose estimator.
        EvaluationDataError: an image has no readable label map.
    """
    if person_box not in PERSON_BOXES:
        raise ValueError(f"person_box must be one of {PERSON_BOXES}, got {person_box!r}")
    if person_box == "pose" and pose_estimator is None:
        raise ValueError("person_box='pose' needs a pose estimator")
    if table is None:
        _, table = load_parser_annotations(Path(images[0]["path"]).parent.parent / "annotations.json")
    classes = parser.classes
    count = len(classes)
    confusion = np.zeros((count, count), np.int64)
    by_softmax = DetectionEvaluator(ARTICLE_CLASSES, max_detections=100)
    by_fraction = DetectionEvaluator(ARTICLE_CLASSES, max_detections=100)
    no_person, times = 0, []
    bar = Progress(len(images), label="parsing") if progress else None
    for image_info in images:
        image = read_image(image_info["path"])
        truth = read_ground_truth(image_info, table)
        if truth.shape != image.shape[:2]:
            raise EvaluationDataError(
                f"{image_info['path']}: label map {truth.shape} and photo {image.shape[:2]} differ"
            )
        box = evaluation_person_box(image_info, image, pose_estimator if person_box == "pose" else None)
        no_person += box is None
        started = time.perf_counter()
        result = parser(image, box)
        times.append((time.perf_counter() - started) * 1000)
        confusion += np.bincount(
            truth.ravel().astype(np.int64) * count + result.labels.ravel(), minlength=count * count
        ).reshape(count, count)
        boxes, box_classes, softmax, fraction = mask_boxes(result)
        gt_boxes, gt_classes = labelled_boxes(image_info, ARTICLE_CLASSES)
        by_softmax.add(boxes, softmax, box_classes, gt_boxes, gt_classes)
        by_fraction.add(boxes, fraction, box_classes, gt_boxes, gt_classes)
        if bar is not None:
            bar.update()
    if bar is not None:
        bar.close()
    result = iou_figures(confusion, classes)
    softmax_summary, fraction_summary = by_softmax.summary(), by_fraction.summary()
    result.update(
        images=len(images),
        person_box=person_box,
        images_without_person=no_person,
        parser_ms_median=round(float(np.median(times)), 2) if times else None,
        mask_boxes={
            "rule": "CCP's article box rule (edge_bml.data_fetch.article_boxes) on the parsed masks",
            "map50_softmax": softmax_summary["map50"],
            "map50_95_softmax": softmax_summary["map50_95"],
            "map50_fraction": fraction_summary["map50"],
            "ap50_per_category_softmax": softmax_summary["ap50_per_category"],
        },
    )
    return result
