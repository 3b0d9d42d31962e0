"""COCO-style AP of the detector evaluation, checked against values computed independently here."""

from __future__ import annotations

import numpy as np
import pytest

from converters.importers.yolo import import_yolo
from edge_bml.evaluation.detection_ap import DetectionEvaluator
from edge_bml.evaluation.detector_eval import evaluate_detector
from edge_bml.manifest import load_manifest
from edge_bml.stages.detector import ArticleDetector
from tests.yolo_onnx_factory import constant_yolo_onnx, yolo_table

LABELS = ("top", "outerwear", "dress", "pants", "shorts", "skirt", "footwear", "bag", "hat", "eyewear", "belt", "scarf")
WIDTH, HEIGHT = 96, 192


def test_ap_of_a_hand_worked_ranking():
    evaluator = DetectionEvaluator(("a", "b"))
    gt = [[0, 0, 10, 10], [20, 20, 30, 30]]
    dets = [[0, 0, 10, 10], [50, 50, 60, 60], [20, 20, 30, 30]]  # TP, FP, TP in score order
    evaluator.add(dets, [0.9, 0.8, 0.7], [0, 0, 0], gt, [0, 0])
    # precision 1, 1/2, 2/3 at recall 1/2, 1/2, 1 -> envelope 1 up to recall 0.5, then 2/3.
    expected = (51 * 1.0 + 50 * 2 / 3) / 101
    summary = evaluator.summary()
    assert summary["ap50_per_category"] == {"a": pytest.approx(expected, abs=1e-4)}
    assert summary["map50"] == pytest.approx(expected, abs=1e-4)


def test_ap_over_iou_thresholds_counts_a_loose_box_only_up_to_its_iou():
    evaluator = DetectionEvaluator(("a",))
    evaluator.add([[0, 0, 10, 7]], [0.9], [0], [[0, 0, 10, 10]], [0])  # IoU 0.7
    summary = evaluator.summary()
    assert summary["map50"] == pytest.approx(1.0)
    assert summary["map50_95"] == pytest.approx(0.5)  # a hit at 0.50 ... 0.70, a miss at 0.75 ... 0.95


def _reference_ap(detections, ground_truth, label, threshold=0.5):
    """Plain-loop COCO AP: greedy matching by score, 101-point interpolated precision."""
    dets = sorted(
        ((s, i, b) for i, items in detections.items() for b, s, c in items if c == label), key=lambda d: -d[0]
    )
    gts = {i: [g for g, c in items if c == label] for i, items in ground_truth.items()}
    total = sum(len(v) for v in gts.values())
    used = {i: [False] * len(v) for i, v in gts.items()}
    tp = fp = 0
    points = []
    for _, image, box in dets:
        best, best_j = threshold, -1
        for j, g in enumerate(gts[image]):
            ix = max(0.0, min(box[2], g[2]) - max(box[0], g[0]))
            iy = max(0.0, min(box[3], g[3]) - max(box[1], g[1]))
            inter = ix * iy
            union = (box[2] - box[0]) * (box[3] - box[1]) + (g[2] - g[0]) * (g[3] - g[1]) - inter
            iou = inter / union
            if not used[image][j] and iou >= best:
                best, best_j = iou, j
        if best_j >= 0:
            used[image][best_j] = True
            tp += 1
        else:
            fp += 1
        points.append((tp / total, tp / (tp + fp)))
    total_p = 0.0
    for r in np.linspace(0, 1, 101):
        total_p += max([p for rec, p in points if rec >= r - 1e-12], default=0.0)
    return total_p / 101


def test_evaluation_on_val_photos_matches_an_independent_computation(ccp_val, tmp_path):
    images = ccp_val[:3]
    first = images[0]
    margin = 0.08

    def crop_of(image):  # the person crop, written out again here
        x0, y0, x1, y1 = image["person_box"]
        pad = margin * (y1 - y0)
        w, h = x1 - x0 + 2 * pad, y1 - y0 + 2 * pad
        w, h = (h * WIDTH / HEIGHT, h) if w / h < WIDTH / HEIGHT else (w, w * HEIGHT / WIDTH)
        return (x0 + x1) / 2 - w / 2, (y0 + y1) / 2 - h / 2, w / WIDTH

    # Input-pixel boxes: the first photo's articles (exact, so true positives there) plus two misses.
    cx0, cy0, k = crop_of(first)
    boxes, scores = [], []
    for n, obj in enumerate(first["objects"]):
        b = obj["box"]
        boxes.append([(b[0] - cx0) / k, (b[1] - cy0) / k, (b[2] - cx0) / k, (b[3] - cy0) / k])
        row = np.zeros(len(LABELS))
        row[LABELS.index(obj["category"])] = 0.9 - 0.05 * n
        scores.append(row)
    for box, label, score in (([2, 2, 30, 30], "bag", 0.95), ([50, 150, 90, 185], "top", 0.3)):
        boxes.append(box)
        row = np.zeros(len(LABELS))
        row[LABELS.index(label)] = score
        scores.append(row)
    model = constant_yolo_onnx(tmp_path / "c.onnx", yolo_table(boxes, scores), width=WIDTH, height=HEIGHT)
    variant = import_yolo(model, tmp_path / "c_onnx", labels=list(LABELS), width=WIDTH, height=HEIGHT)

    with ArticleDetector(load_manifest(variant)) as detector:
        result = evaluate_detector(detector, images, person_crop="gt", progress=False)

    detections, ground_truth = {}, {}
    for index, image in enumerate(images):
        x0, y0, k = crop_of(image)
        items = []
        for box, row in zip(boxes, scores):
            mapped = [x0 + box[0] * k, y0 + box[1] * k, x0 + box[2] * k, y0 + box[3] * k]
            mapped = [min(max(v, 0), lim) for v, lim in zip(mapped, [image["width"], image["height"]] * 2)]
            items.append((mapped, float(row.max()), LABELS[int(row.argmax())]))
        detections[index] = items
        ground_truth[index] = [(o["box"], o["category"]) for o in image["objects"]]
    present = sorted({c for items in ground_truth.values() for _, c in items}, key=LABELS.index)
    expected = {label: _reference_ap(detections, ground_truth, label) for label in present}
    assert set(result["ap50_per_category"]) == set(present)
    for label in present:
        assert result["ap50_per_category"][label] == pytest.approx(expected[label], abs=1e-3), label
    assert result["map50"] == pytest.approx(np.mean(list(expected.values())), abs=1e-3)
    assert result["images"] == 3 and result["person_crop"] == "gt"
    assert 0 < result["map50"] < 1, result


def test_evaluate_command_prints_the_json_figures(data_dir, tmp_path, capsys):
    import json

    from edge_bml.cli.main import main

    table = yolo_table([[10, 10, 60, 90]], [[0.8] + [0.0] * 11])
    model = constant_yolo_onnx(tmp_path / "c.onnx", table, width=WIDTH, height=HEIGHT)
    variant = import_yolo(model, tmp_path / "c_onnx", labels=list(LABELS), width=WIDTH, height=HEIGHT)
    argv = ["evaluate", "detector", "--data", str(data_dir), "--split", "val", "--model", str(variant)]
    assert main([*argv, "--person-crop", "gt", "--limit", "2", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert {"map50", "map50_95", "ap50_per_category", "images", "precision", "person_crop"} <= set(result)
    assert result["images"] == 2 and result["precision"] == "fp32" and result["person_crop"] == "gt"
    assert main(["evaluate", "detector", "--data", str(tmp_path / "nowhere"), "--model", str(variant)]) == 2
    assert "no annotations.json" in capsys.readouterr().err
    assert main([*argv, "--split", "nosuchsplit"]) == 2
    assert "no images in split" in capsys.readouterr().err


def test_best_f1_threshold_sits_at_the_last_true_positive_worth_keeping():
    evaluator = DetectionEvaluator(("a", "b"))
    gt = [[0, 0, 10, 10], [20, 20, 30, 30]]
    dets = [[0, 0, 10, 10], [20, 20, 30, 30], [50, 50, 60, 60], [70, 70, 80, 80]]
    evaluator.add(dets, [0.9, 0.6, 0.4, 0.3], [0, 0, 0, 0], gt, [0, 0])
    evaluator.add([[0, 0, 5, 5]], [0.7], [1], [[40, 40, 50, 50]], [1])
    assert evaluator.best_f1_threshold(0) == pytest.approx(0.6)  # F1 1.0 there, lower past it
    assert evaluator.best_f1_threshold(1) == 0.5  # no true positive at all: a cautious default


def test_a_precision_floor_raises_the_threshold_where_f1_alone_shows_too_many_wrong_boxes():
    """F1 alone keeps a low-scored run of wrong boxes when it also finds the last articles."""
    evaluator = DetectionEvaluator(("a",))
    gt = [[0, 0, 10, 10], [20, 20, 30, 30], [40, 40, 50, 50]]
    # By score: right, wrong, wrong, right, right.
    dets = [[0, 0, 10, 10], [60, 60, 70, 70], [80, 80, 90, 90], [20, 20, 30, 30], [40, 40, 50, 50]]
    evaluator.add(dets, [0.9, 0.6, 0.5, 0.4, 0.3], [0] * 5, gt, [0, 0, 0])
    assert evaluator.best_f1_threshold(0) == pytest.approx(0.3)  # F1 0.75, but 2 of the 5 shown are wrong
    assert evaluator.operating_point(0, 0.3) == {
        "threshold": 0.3,
        "precision": 0.6,
        "recall": 1.0,
        "shown": 5,
        "ground_truth": 3,
    }
    assert evaluator.best_f1_threshold(0, min_precision=0.6) == pytest.approx(0.3)  # precise enough already
    assert evaluator.best_f1_threshold(0, min_precision=0.7) == pytest.approx(0.9)  # the only 70%-right cut
    assert evaluator.best_f1_threshold(0, min_precision=1.1) == pytest.approx(0.9)  # none: the most precise


def test_long_garments_called_pants_are_counted_against_dresses_skirts_and_boots():
    from edge_bml.evaluation.detector_eval import LongGarmentCounts
    from edge_bml.stages.detector import Detections

    labels = ("top", "pants", "dress", "skirt", "footwear")
    image = {
        "objects": [
            {"category": "dress", "fine": ["dress"], "box": [100, 100, 200, 400]},
            {"category": "skirt", "fine": ["skirt"], "box": [300, 250, 400, 400]},
            {"category": "footwear", "fine": ["boots"], "box": [110, 380, 140, 440]},
            {"category": "footwear", "fine": ["shoes"], "box": [160, 420, 190, 440]},
        ]
    }
    # A top over the dress's upper half and "pants" over its lower half and the boot; the skirt shown right.
    shown = Detections(
        np.asarray([[105, 100, 195, 240], [105, 240, 195, 445], [300, 250, 400, 400]], np.float32),
        np.asarray([0.9, 0.6, 0.8], np.float32),
        np.asarray([0, 1, 3]),
        labels,
    )
    counts = LongGarmentCounts()
    counts.add(image, shown, labels)
    summary = counts.summary()
    assert {k: summary[k] for k in ("dresses_skirts", "dresses_skirts_as_pants", "dresses_skirts_as_top_pants")} == {
        "dresses_skirts": 2,
        "dresses_skirts_as_pants": 1,
        "dresses_skirts_as_top_pants": 1,
    }
    assert (summary["boots"], summary["boots_as_pants"], summary["share_boots_as_pants"]) == (1, 1, 1.0)
    # The same "pants" box is no mistake where the photo's truth has pants there.
    image["objects"].append({"category": "pants", "fine": ["jeans"], "box": [105, 240, 195, 445]})
    counts = LongGarmentCounts()
    counts.add(image, shown, labels)
    assert (counts.dresses_skirts_as_pants, counts.boots_as_pants) == (0, 0)
