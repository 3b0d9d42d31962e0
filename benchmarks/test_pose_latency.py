"""Pose stage latency per backend x precision x threads, on real full-shot photos.

Run: pytest benchmarks/test_pose_latency.py --benchmark-json=benchmarks/results/pose.json
"""

from __future__ import annotations

import itertools

import pytest

from benchmarks.variants import variant_for
from edge_bml.backends import BACKEND_NAMES
from edge_bml.model_registry import select_variant
from edge_bml.stages.pose import PoseDetector, PoseEstimator, PoseLandmarker

PRECISIONS = ("fp32", "int8")
THREADS = (1, 2)
CASES = list(itertools.product(BACKEND_NAMES, PRECISIONS, THREADS))


def pose_stage(detection, landmarks, *, threads: int, mirror_average: bool) -> PoseEstimator:
    """The pose stage as a benchmark case builds it."""
    return PoseEstimator(
        PoseDetector(detection, threads=threads),
        PoseLandmarker(landmarks, threads=threads, mirror_average=mirror_average),
    )


def _cycle(photos):
    state = {"i": 0}

    def next_photo():
        state["i"] = (state["i"] + 1) % len(photos)
        return photos[state["i"]]

    return next_photo


@pytest.mark.parametrize(("backend", "precision", "threads"), CASES)
def test_pose_detection(benchmark, full_shot_photos, backend, precision, threads):
    manifest = variant_for("pose_detection", backend, precision, threads)
    benchmark.group = "pose_detect"
    benchmark.extra_info.update(model=manifest.name, backend=backend, precision=precision, threads=threads)
    with PoseDetector(manifest, threads=threads) as detector:
        photo = _cycle(full_shot_photos)
        detections = benchmark(lambda: detector(photo()))
    assert detections


@pytest.mark.parametrize(("backend", "precision", "threads"), CASES)
def test_pose_landmarks(benchmark, full_shot_photos, backend, precision, threads):
    manifest = variant_for("pose_landmarks", backend, precision, threads)
    benchmark.group = "pose_landmarks"
    benchmark.extra_info.update(model=manifest.name, backend=backend, precision=precision, threads=threads)
    with PoseDetector(select_variant("pose_detection", precision="fp32")) as detector:
        inputs = [(image, detector(image)[0]) for image in full_shot_photos]
    with PoseLandmarker(manifest, threads=threads) as landmarker:
        state = {"i": 0}

        def run():
            state["i"] = (state["i"] + 1) % len(inputs)
            return landmarker(*inputs[state["i"]])

        pose = benchmark(run)
    assert pose is not None


@pytest.mark.parametrize("mirror_average", [True, False], ids=["mirror_average", "single_pass"])
@pytest.mark.parametrize(("backend", "precision", "threads"), CASES)
def test_pose_stage(benchmark, full_shot_photos, backend, precision, threads, mirror_average):
    detection = variant_for("pose_detection", backend, precision, threads)
    landmarks = variant_for("pose_landmarks", backend, precision, threads)
    benchmark.group = "pose_stage"
    benchmark.extra_info.update(
        model=f"{detection.name}+{landmarks.name}",
        backend=backend,
        precision=precision,
        threads=threads,
        mirror_average=mirror_average,
    )
    with pose_stage(detection, landmarks, threads=threads, mirror_average=mirror_average) as estimator:
        photo = _cycle(full_shot_photos)
        result = benchmark(lambda: estimator(photo()))
    assert result.main is not None
