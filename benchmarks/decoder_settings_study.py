"""Whether another decoder setting would raise the detector's mAP (#13; README *Article detector*).

    .venv/bin/python -m benchmarks.decoder_settings_study [--model quantized_models/article_detector_int8_tflite]

On CCP val with the pose stage's person crop, the model runs once per photo; its raw outputs are then
decoded again under each setting (NMS IoU, detections kept per photo, the exclusive rule's penalty, the
rule off) and scored as ``edge-bml evaluate detector`` scores them. The person-crop margin changes the
model's input, so each margin runs the model again.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import numpy as np

from edge_bml.data_paths import data_dir
from edge_bml.evaluation.detection_ap import DetectionEvaluator, labelled_boxes
from edge_bml.evaluation.detector_eval import EVAL_SCORE_THRESHOLD, evaluation_person_box, load_annotations
from edge_bml.image_io import read_image
from edge_bml.manifest import load_manifest
from edge_bml.stages.detector import ArticleDetector
from edge_bml.stages.pose import PoseEstimator

SETTINGS = (
    {},
    {"max_detections": 100},
    {"max_detections": 300},
    *({"iou_threshold": iou} for iou in (0.45, 0.55, 0.6, 0.65, 0.7)),
    {"penalty": 0.1},
    {"penalty": 0.5},
    {"exclusive_enabled": False},
)
MARGINS = (0.04, 0.12, 0.16)


def _map50(detector: ArticleDetector, runs: list, images: list[dict]) -> float:
    evaluator = DetectionEvaluator(detector.labels, max_detections=max(100, detector.max_detections))
    floor = np.full_like(detector.class_thresholds, EVAL_SCORE_THRESHOLD)
    for (outputs, crop, size), info in zip(runs, images):
        found = detector.postprocess(outputs, crop, size, thresholds=floor)
        gt_boxes, gt_classes = labelled_boxes(info, detector.labels)
        evaluator.add(found.xyxy, found.confidence, found.class_id, gt_boxes, gt_classes)
    return evaluator.summary()["map50"]


def _runs(detector: ArticleDetector, images: list[dict], boxes: list) -> list:
    runs = []
    for info, box in zip(images, boxes):
        image = read_image(info["path"])
        tensor, crop = detector.preprocess(image, box)
        runs.append((detector.infer(tensor), crop, (image.shape[1], image.shape[0])))
    return runs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=Path("quantized_models/article_detector_int8_tflite"))
    args = parser.parse_args(argv)

    images = load_annotations(data_dir() / "ccp" / "annotations.json", split="val")
    manifest = load_manifest(args.model)
    with PoseEstimator.create_from_options() as pose:
        boxes = [evaluation_person_box(info, read_image(info["path"]), pose) for info in images]
    with ArticleDetector(manifest) as detector:
        runs = _runs(detector, images, boxes)
        shipped = {k: getattr(detector, k) for k in ("iou_threshold", "max_detections", "exclusive_enabled")}
        rule = detector.exclusive
        print(f"{manifest.name}, CCP val ({len(images)} photos), pose crop, mAP@0.5:")
        for setting in SETTINGS:
            for name, value in shipped.items():
                setattr(detector, name, setting.get(name, value))
            if rule is not None:
                detector.exclusive = dataclasses.replace(rule, penalty=setting.get("penalty", rule.penalty))
            print(f"  {setting or 'as shipped'}: {_map50(detector, runs, images):.4f}")
    for margin in MARGINS:
        decoder = dict(manifest.decoder, person_crop_margin=margin)
        with ArticleDetector(dataclasses.replace(manifest, decoder=decoder)) as detector:
            print(f"  person crop margin {margin}: {_map50(detector, _runs(detector, images, boxes), images):.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
