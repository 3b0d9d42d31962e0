"""Every model input the runtime builds from a photo, and their hashes: the cross-CPU identity check.

``benchmarks/aarch64/stage_probe.py`` writes these hashes on the emulated aarch64 machine
(``benchmarks/results/aarch64_input_hashes.json``, refreshed by ``benchmarks/aarch64/check.sh``);
``tests/test_exact_inputs.py`` recomputes them here and compares, so a wheel (OpenCV, numpy) that moves the
pixels a model reads fails on x86 too, without an emulator.

Each input comes from the runtime's own functions (``edge_bml.stages.inputs``) and from fixed boxes, so that
no model output feeds another model's input: the annotation's person box and its first article box, and a
rotated landmark square around the person box on the pose stage's grid.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from edge_bml.geometry import RotatedRect
from edge_bml.manifest import ModelManifest, load_manifest
from edge_bml.model_registry import models_dir
from edge_bml.stages.inputs import embedder_input, landmark_input, person_crop_input, pose_detection_input

# The variants whose inputs the look builds on the Pi (LiteRT; the parser has ONNX variants only), FP32 and
# INT8 where both exist: their manifests may normalise differently.
VARIANTS = (
    "blazepose_detection_fp32_tflite",
    "blazepose_detection_int8_tflite",
    "blazepose_landmarks_full_fp32_tflite",
    "blazepose_landmarks_full_int8_tflite",
    "article_detector_int8_tflite",
    "article_detector_fp32_tflite",
    "embedder_triplet_int8_tflite",
    "garment_parser_int8_onnx",
)
LANDMARK_ROTATION = 0.3  # radians: the probe's landmark square is rotated, as a leaning person's is
ROI_STEP = 4  # the pose stage's ROI_GRID_PX


def sha(array: np.ndarray) -> str:
    """The first 16 hex digits of the sha256 of an array's bytes (C order)."""
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()[:16]


def probe_photos(annotations: Path, count: int) -> list[dict]:
    """The first ``count`` CCP val images that have a person box and an article, ``path`` added."""
    annotations = Path(annotations)
    images = json.loads(annotations.read_text())["images"]
    chosen = [dict(i) for i in images if i["split"] == "val" and i.get("person_box") and i.get("objects")][:count]
    for image in chosen:
        image["path"] = annotations.parent / image["file"]
    return chosen


def landmark_roi(person_box) -> RotatedRect:
    """A rotated square around the person box, its centre and side on the pose stage's grid."""
    x0, y0, x1, y1 = (float(v) for v in person_box)
    side = max(x1 - x0, y1 - y0) * 1.1
    return RotatedRect(
        float(round((x0 + x1) / 2 / ROI_STEP) * ROI_STEP),
        float(round((y0 + y1) / 2 / ROI_STEP) * ROI_STEP),
        float(max(ROI_STEP, round(side / ROI_STEP) * ROI_STEP)),
        LANDMARK_ROTATION,
    )


def model_inputs(manifest: ModelManifest, image: np.ndarray, info: dict) -> Iterator[tuple[str, np.ndarray]]:
    """(label, tensor) for each input ``manifest``'s task builds from ``image``; ``info`` is its annotation."""
    if manifest.task == "pose_detection":
        yield "letterbox", pose_detection_input(manifest, image)[0]
    elif manifest.task == "pose_landmarks":
        yield "roi", landmark_input(manifest, image, landmark_roi(info["person_box"]))
    elif manifest.task in ("detector", "parser"):
        yield "person_crop", person_crop_input(manifest, image, info["person_box"])[0]
        yield "whole_photo", person_crop_input(manifest, image, None)[0]
    elif manifest.task == "embedder":
        x0, y0, x1, y1 = (int(v) for v in info["objects"][0]["box"])
        yield "article", embedder_input(manifest, np.ascontiguousarray(image[y0:y1, x0:x1]))


def input_hashes(annotations: Path, count: int = 3, variants=VARIANTS) -> dict:
    """``{photo file name: {"pixels": hash, "inputs": {"<variant>/<label>": hash}}}`` for the first ``count``
    CCP val photos and every variant of ``variants`` that is installed."""
    from edge_bml.image_io import read_image

    manifests = [load_manifest(models_dir() / name) for name in variants if (models_dir() / name).is_dir()]
    report = {}
    for info in probe_photos(annotations, count):
        image = read_image(info["path"])
        inputs = {
            f"{manifest.name}/{label}": sha(tensor)
            for manifest in manifests
            for label, tensor in model_inputs(manifest, image, info)
        }
        report[Path(info["file"]).name] = {"pixels": sha(image), "inputs": inputs}
    return report
