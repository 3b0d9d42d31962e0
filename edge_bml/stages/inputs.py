"""Model inputs from photos, written once: the stages, INT8 calibration and validation all call these.

If calibration and the runtime prepared inputs differently, every INT8 accuracy figure would stop
meaning anything; ``tests/test_stage_inputs.py`` checks that calibration tensors equal these.
"""

from __future__ import annotations

import numpy as np

from edge_bml.geometry import Letterbox, RotatedRect, letterbox
from edge_bml.manifest import ModelManifest
from edge_bml.stages.detector_crop import (
    CROP_GRID_PX,
    DEFAULT_PERSON_CROP_MARGIN,
    CropBox,
    cut_crop,
    person_crop_box,
    whole_photo_crop_box,
)


def person_crop_margin(manifest: ModelManifest) -> float:
    """The margin around the person box that ``manifest``'s model was trained with."""
    return float(manifest.decoder.get("person_crop_margin", DEFAULT_PERSON_CROP_MARGIN))


def person_crop_input(manifest: ModelManifest, image: np.ndarray, person_box=None) -> tuple[np.ndarray, CropBox]:
    """Detector and parser input: the person crop at the model's aspect ratio (whole photo without a box).

    Raises:
        ValueError: the person box is empty or not finite.
    """
    spec = manifest.input
    aspect = spec.width / spec.height
    if person_box is None:
        crop = whole_photo_crop_box(image.shape[1], image.shape[0], aspect=aspect)
    else:
        crop = person_crop_box(person_box, aspect=aspect, margin=person_crop_margin(manifest)).snapped(
            CROP_GRID_PX, aspect=aspect
        )
    return spec.normalize(cut_crop(image, crop, spec.width, spec.height)), crop


def pose_detection_input(manifest: ModelManifest, image: np.ndarray) -> tuple[np.ndarray, Letterbox]:
    """Pose detector input: the whole photo letterboxed to the model's size."""
    spec = manifest.input
    padded, box = letterbox(image, spec.width, spec.height)
    return spec.normalize(padded), box


def landmark_input(manifest: ModelManifest, image: np.ndarray, roi: RotatedRect) -> np.ndarray:
    """Landmark model input: the rotated square around one person, cut at the model's size."""
    spec = manifest.input
    return spec.normalize(roi.crop(image, spec.width))


def embedder_input(manifest: ModelManifest, rgb: np.ndarray) -> np.ndarray:
    """Embedder input: one article crop letterboxed on the model's pad colour."""
    spec = manifest.input
    pad = int(manifest.decoder.get("pad_value", 124))
    boxed, _ = letterbox(np.ascontiguousarray(rgb, dtype=np.uint8), spec.width, spec.height, pad_value=pad)
    return spec.normalize(boxed)
