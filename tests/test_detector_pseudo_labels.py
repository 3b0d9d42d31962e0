"""Pseudo labels for CCP's tagged photos: the keep rule, the file they make, and the loss that ignores misses."""

from __future__ import annotations

import json

import numpy as np
import pytest

from converters.train.detector_dataset import load_annotation_records
from converters.train.detector_pseudo_labels import MAX_BOXES, keep_boxes, pseudo_thresholds
from edge_bml.stages.detector import Detections

LABELS = ("top", "footwear", "belt", "scarf")


def _detections(rows: list[tuple[str, float]]) -> Detections:
    xyxy = np.asarray([[10 * i, 0, 10 * i + 5, 5] for i in range(len(rows))], np.float32).reshape(-1, 4)
    scores = np.asarray([score for _, score in rows], np.float32)
    ids = np.asarray([LABELS.index(label) for label, _ in rows], np.int64)
    return Detections(xyxy, scores, ids, LABELS)


def test_thresholds_never_go_under_the_floor():
    decoder = {"class_score_thresholds": {"top": 0.15, "footwear": 0.49}, "score_threshold": 0.25}
    assert pseudo_thresholds(decoder, LABELS, 0.3) == {"top": 0.3, "footwear": 0.49, "belt": 0.3, "scarf": 0.3}


def test_only_tagged_categories_over_threshold_keep_their_best_boxes():
    found = _detections([("top", 0.9), ("top", 0.8), ("footwear", 0.7), ("footwear", 0.6), ("footwear", 0.5)])
    found = Detections(
        np.vstack([found.xyxy, [[0, 0, 9, 9], [0, 0, 8, 8]]]),
        np.append(found.confidence, [0.95, 0.2]).astype(np.float32),
        np.append(found.class_id, [LABELS.index("belt"), LABELS.index("scarf")]),
        LABELS,
    )
    thresholds = dict.fromkeys(LABELS, 0.3)
    kept = keep_boxes(found, {"top", "footwear", "scarf"}, thresholds)
    assert set(kept) == {"top", "footwear"}  # belt is not tagged; scarf is under its threshold
    assert [score for _, score in kept["top"]] == [pytest.approx(0.9)]
    assert len(kept["footwear"]) == MAX_BOXES["footwear"] == 2
    assert [score for _, score in kept["footwear"]] == [pytest.approx(0.7), pytest.approx(0.6)]


def test_extra_annotations_load_with_absolute_paths_and_ignored_classes(tmp_path):
    photo = tmp_path / "photos" / "1005.jpg"
    image = {"id": "1005", "file": str(photo), "split": "pseudo", "person_box": [1, 2, 30, 90]}
    image.update(objects=[{"category": "top", "box": [2, 10, 28, 40]}], ignore_categories=["scarf", "belt"])
    path = tmp_path / "elsewhere" / "pseudo.json"
    path.parent.mkdir()
    path.write_text(json.dumps({"images": [image, {**image, "id": "1006", "person_box": None}]}))
    [record] = load_annotation_records(path)
    assert record.path == photo and record.labels.tolist() == [0]
    assert record.ignore.tolist() == [10, 11]  # belt, scarf in CCP's category order


def test_an_ignored_class_gets_no_classification_gradient():
    torch = pytest.importorskip("torch")
    from converters.train.torch_models.article_detector import grid_points
    from converters.train.torch_models.detector_loss import detection_loss

    points, strides = grid_points(64, 64)
    logits = torch.zeros(1, 4, points.shape[0], requires_grad=True)
    boxes = torch.tensor([[8.0, 8.0, 40.0, 40.0]]).repeat(points.shape[0], 1)[None]
    target = (torch.tensor([[8.0, 8.0, 40.0, 40.0]]), torch.tensor([0]), torch.tensor([2]))
    loss, _ = detection_loss(logits, boxes, points, strides, [target])
    loss.backward()
    grad = logits.grad[0]
    assert grad[2].abs().max() == 0  # ignored: tagged but unboxed
    assert grad[3].abs().max() > 0  # untagged: background
    assert grad[0].abs().max() > 0


def test_the_command_writes_a_ccp_format_file_training_can_read(data_dir, tmp_path):
    pytest.importorskip("onnxruntime")
    from converters.cli import main as convert_main

    out = tmp_path / "pseudo" / "tagged.json"
    assert convert_main(["pseudo-label", "detector", "--data", str(data_dir), "--out", str(out), "--limit", "3"]) == 0
    written = json.loads(out.read_text())
    assert written["summary"]["photos"] == 3 and all(image["split"] == "pseudo" for image in written["images"])
    categories = set(written["categories"])
    for image in written["images"]:
        boxed = [o["category"] for o in image["objects"]]
        assert set(boxed) <= categories and not set(boxed) & set(image["ignore_categories"])
        assert all(boxed.count(c) <= MAX_BOXES.get(c, 1) for c in boxed)
    review = {(r["id"], r["category"]) for r in written["review"]}
    assert review == {(i["id"], c) for i in written["images"] for c in i["ignore_categories"]}
    records = load_annotation_records(out)
    assert len(records) == written["summary"]["labelled_photos"] and all(r.path.is_file() for r in records)
