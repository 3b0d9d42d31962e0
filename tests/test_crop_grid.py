"""Crops on a grid: float noise between CPUs in the person box or the pose ROI must not move the pixels a
model reads (benchmarks/aarch64/check.sh measures the whole chain on an emulated Cortex-A76)."""

import math

import numpy as np
import pytest

from edge_bml.manifest import load_manifest
from edge_bml.model_registry import models_dir
from edge_bml.stages.detector_crop import CROP_GRID_PX, person_crop_box
from edge_bml.stages.inputs import person_crop_input
from edge_bml.stages.pose import ROI_GRID_PX, PoseDetector


def test_snapped_crop_is_on_the_grid_at_the_aspect_and_near_the_original() -> None:
    crop = person_crop_box((101.3, 57.9, 301.7, 703.2), aspect=0.5)
    snapped = crop.snapped(4, aspect=0.5)
    assert snapped.x0 % 4 == 0 and snapped.y0 % 4 == 0 and snapped.height % 4 == 0
    assert snapped.width == pytest.approx(0.5 * snapped.height)
    assert max(abs(snapped.x0 - crop.x0), abs(snapped.y0 - crop.y0), abs(snapped.height - crop.height)) <= 2


def test_float_noise_in_the_person_box_reads_the_same_pixels() -> None:
    manifest = load_manifest(models_dir() / "article_detector_int8_tflite")
    image = np.random.default_rng(0).integers(0, 256, (800, 600, 3), dtype=np.uint8)
    box = np.array([150.3, 90.6, 402.2, 770.1])
    tensor, crop = person_crop_input(manifest, image, box)
    noisy, noisy_crop = person_crop_input(manifest, image, box + 1e-4)
    assert crop == noisy_crop
    np.testing.assert_array_equal(tensor, noisy)
    moved, _ = person_crop_input(manifest, image, box + CROP_GRID_PX)  # a real move still moves the crop
    assert not np.array_equal(tensor, moved)


def test_pose_roi_is_on_its_grid() -> None:
    manifest = load_manifest(models_dir() / "blazepose_detection_fp32_tflite")
    detector = PoseDetector.__new__(PoseDetector)  # only the ROI rule: no model needed
    roi = manifest.decoder["roi"]
    detector.roi_start, detector.roi_end = int(roi["start_keypoint"]), int(roi["end_keypoint"])
    detector.roi_angle, detector.roi_scale = math.radians(float(roi["target_angle_degrees"])), float(roi["scale"])
    keypoints = np.zeros((4, 2), np.float32)
    keypoints[detector.roi_start] = (301.37, 402.91)
    keypoints[detector.roi_end] = (296.2, 151.4)
    rect = detector._roi(keypoints)
    noisy = detector._roi(keypoints + np.float32(1e-3))
    assert (rect.center_x, rect.center_y, rect.size) == (noisy.center_x, noisy.center_y, noisy.size)
    assert rect.center_x % ROI_GRID_PX == 0 and rect.center_y % ROI_GRID_PX == 0 and rect.size % ROI_GRID_PX == 0
    start, end = keypoints[detector.roi_start], keypoints[detector.roi_end]
    assert rect.rotation == pytest.approx(detector.roi_angle - math.atan2(-(end[1] - start[1]), end[0] - start[0]))
    assert abs(rect.center_x - 301.37) <= ROI_GRID_PX / 2 and abs(rect.center_y - 402.91) <= ROI_GRID_PX / 2
