"""edge_bml's COCO-style AP equals pycocotools' on the shipped detector's real detections of CCP val."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest

from edge_bml.evaluation.detection_ap import DetectionEvaluator
from edge_bml.evaluation.detector_eval import EVAL_SCORE_THRESHOLD, load_annotations
from edge_bml.image_io import read_image
from edge_bml.model_registry import select_variant
from edge_bml.stages.detector import ArticleDetector

pycocotools = pytest.importorskip("pycocotools", reason="pycocotools (dev extra) is not installed")


def test_ap_matches_pycocotools(data_dir):
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    images = load_annotations(data_dir / "ccp" / "annotations.json", split="val")[:40]
    with ArticleDetector(select_variant("detector", backend="onnxruntime", precision="fp32"), threads=1) as detector:
        labels = detector.labels
        ours = DetectionEvaluator(labels, max_detections=100)
        gt = {"images": [], "annotations": [], "categories": [{"id": i + 1, "name": n} for i, n in enumerate(labels)]}
        detections = []
        for number, image in enumerate(images, 1):
            found = detector(read_image(image["path"]), image["person_box"], score_threshold=EVAL_SCORE_THRESHOLD)
            found = found[np.argsort(-found.confidence)[:100]]
            objects = [o for o in image["objects"] if o["category"] in labels]
            boxes = np.asarray([o["box"] for o in objects], np.float64).reshape(-1, 4)
            classes = np.asarray([labels.index(o["category"]) for o in objects], np.int64)
            ours.add(found.xyxy, found.confidence, found.class_id, boxes, classes)
            gt["images"].append({"id": number, "width": image["width"], "height": image["height"]})
            for box, cls in zip(boxes, classes, strict=True):
                x0, y0, x1, y1 = box.tolist()
                area = (x1 - x0) * (y1 - y0)
                gt["annotations"].append(
                    {
                        "id": len(gt["annotations"]) + 1,
                        "image_id": number,
                        "category_id": int(cls) + 1,
                        "bbox": [x0, y0, x1 - x0, y1 - y0],
                        "area": area,
                        "iscrowd": 0,
                    }
                )
            for box, score, cls in zip(
                found.xyxy.tolist(), found.confidence.tolist(), found.class_id.tolist(), strict=True
            ):
                x0, y0, x1, y1 = box
                detections.append(
                    {"image_id": number, "category_id": cls + 1, "bbox": [x0, y0, x1 - x0, y1 - y0], "score": score}
                )
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO()
        coco.dataset = gt
        coco.createIndex()
        evaluation = COCOeval(coco, coco.loadRes(detections), "bbox")
        evaluation.params.areaRng = [[0, 1e10]]
        evaluation.params.areaRngLbl = ["all"]
        evaluation.params.maxDets = [100]
        evaluation.evaluate()
        evaluation.accumulate()
    precision = evaluation.eval["precision"][:, :, :, 0, 0]  # [iou, recall, category]
    summary = ours.summary()
    for index, label in enumerate(labels):
        if label not in summary["ap50_per_category"]:
            continue
        theirs50 = precision[0, :, index]
        theirs50 = float(np.mean(theirs50[theirs50 > -1])) if (theirs50 > -1).any() else 0.0
        assert summary["ap50_per_category"][label] == pytest.approx(theirs50, abs=1e-3), label
        theirs_all = precision[:, :, index]
        theirs_all = float(np.mean(theirs_all[theirs_all > -1])) if (theirs_all > -1).any() else 0.0
        assert summary["ap50_95_per_category"][label] == pytest.approx(theirs_all, abs=1e-3), label
