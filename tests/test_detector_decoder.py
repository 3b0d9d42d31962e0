"""The detector's decoder on hand-made YOLO-layout outputs: boxes, per-class thresholds, NMS, mapping."""

from __future__ import annotations

import numpy as np
import pytest

from edge_bml.errors import ImageError, InputSpecError
from edge_bml.stages.detector import Detections, batched_nms, decode_yolo
from edge_bml.stages.detector_crop import cut_crop, person_crop_box
from tests.yolo_onnx_factory import yolo_table

THRESHOLDS = np.array([0.3, 0.3, 0.6], np.float32)


def test_known_boxes_come_out_with_their_class_and_score():
    table = yolo_table([[10, 20, 50, 100], [60, 10, 90, 40]], [[0.9, 0.1, 0.0], [0.0, 0.0, 0.8]])
    found = decode_yolo(table, class_thresholds=THRESHOLDS, labels=("top", "bag", "hat"))
    assert len(found) == 2
    np.testing.assert_allclose(found.xyxy, [[10, 20, 50, 100], [60, 10, 90, 40]], atol=1e-4)
    np.testing.assert_allclose(found.confidence, [0.9, 0.8], atol=1e-6)
    assert found.names == ["top", "hat"]


def test_per_class_threshold_drops_a_box_another_class_would_keep():
    table = yolo_table([[0, 0, 10, 10], [20, 20, 30, 30]], [[0.5, 0, 0], [0, 0, 0.5]])
    found = decode_yolo(table, class_thresholds=THRESHOLDS)
    assert found.class_id.tolist() == [0]


def test_nms_suppresses_overlaps_of_one_class_only():
    boxes = [[0, 0, 100, 100], [5, 5, 100, 100], [0, 0, 100, 100], [200, 200, 220, 220]]
    scores = [[0.9, 0, 0], [0.8, 0, 0], [0, 0.7, 0], [0.6, 0, 0]]
    found = decode_yolo(yolo_table(boxes, scores), class_thresholds=THRESHOLDS, iou_threshold=0.5)
    kept = sorted(zip(found.class_id.tolist(), found.confidence.tolist()))
    assert [c for c, _ in kept] == [0, 0, 1]
    np.testing.assert_allclose([s for _, s in kept], [0.6, 0.9, 0.7], atol=1e-6)


def test_nms_keeps_boxes_below_the_iou_threshold():
    boxes = np.array([[0, 0, 10, 10], [5, 0, 15, 10]], np.float32)  # IoU 1/3
    one_class = np.zeros(2, np.int64)
    assert batched_nms(boxes, np.array([0.8, 0.9]), one_class, 0.5).tolist() == [1, 0]  # best first
    assert batched_nms(boxes, np.array([0.9, 0.8]), one_class, 0.3).tolist() == [0]


def test_transposed_layout_and_logits_are_read():
    table = yolo_table([[10, 10, 20, 20]], [[3.0, -3.0, -3.0]])
    found = decode_yolo(table.transpose(0, 2, 1), class_thresholds=THRESHOLDS, logits=True)
    assert found.class_id.tolist() == [0]
    assert found.confidence[0] == pytest.approx(1 / (1 + np.exp(-3.0)), rel=1e-5)


def test_a_shape_that_does_not_fit_the_labels_is_a_typed_error():
    with pytest.raises(InputSpecError, match="YOLO layout"):
        decode_yolo(np.zeros((1, 9, 30), np.float32), class_thresholds=THRESHOLDS)


def test_max_detections_keeps_the_best():
    boxes = [[i * 20, 0, i * 20 + 10, 10] for i in range(5)]
    scores = [[0.4 + 0.1 * i, 0, 0] for i in range(5)]
    found = decode_yolo(yolo_table(boxes, scores), class_thresholds=THRESHOLDS, max_detections=2)
    np.testing.assert_allclose(found.confidence, [0.8, 0.7], atol=1e-6)


def test_detections_index_with_masks():
    found = Detections(
        np.arange(12, dtype=np.float32).reshape(3, 4), np.array([0.9, 0.2, 0.5]), np.array([0, 1, 0]), ("a", "b")
    )
    subset = found[found.confidence > 0.4]
    assert len(subset) == 2 and subset.names == ["a", "a"]
    assert len(Detections.empty(("a",))) == 0


def test_crop_box_has_the_input_aspect_and_maps_back():
    crop = person_crop_box((100, 50, 200, 450), aspect=0.5, margin=0.1)
    assert crop.width / crop.height == pytest.approx(0.5)
    assert crop.height == pytest.approx(400 * 1.2)
    boxes = np.array([[120, 60, 180, 300]], np.float32)
    np.testing.assert_allclose(crop.to_photo(crop.to_input(boxes, 192, 384), 192, 384), boxes, atol=1e-3)


def test_wide_person_boxes_grow_in_height():
    crop = person_crop_box((0, 0, 400, 200), aspect=0.5, margin=0.0)
    assert (crop.width, crop.height) == pytest.approx((400, 800))


def test_bad_person_box_and_bad_image_are_typed_errors():
    with pytest.raises(ValueError, match="person box"):
        person_crop_box((10, 10, 5, 20), aspect=0.5)
    with pytest.raises(ImageError):
        cut_crop(np.zeros((10, 10), np.uint8), person_crop_box((0, 0, 5, 10), aspect=0.5), 32, 64)


def test_cut_crop_puts_photo_pixels_where_the_crop_says():
    image = np.zeros((400, 200, 3), np.uint8)
    image[100:200, 50:150] = 255
    crop = person_crop_box((0, 0, 200, 400), aspect=0.5, margin=0.0)
    out = cut_crop(image, crop, 100, 200)
    assert out.shape == (200, 100, 3)
    assert out[75, 50].min() == 255 and out[25, 50].max() == 0
