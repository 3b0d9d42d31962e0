"""The mirror pass as one batch of two: the runtimes resize the landmark model, and the landmarks stay those
of two separate reads."""

from __future__ import annotations

import numpy as np
import pytest

from edge_bml.backends import is_available, open_backend
from edge_bml.errors import ModelNotFoundError
from edge_bml.image_io import read_image
from edge_bml.model_registry import select_variant
from edge_bml.stages.pose import PoseDetector, PoseLandmarker

CASES = [(backend, precision) for backend in ("openvino", "litert") for precision in ("fp32", "int8")]


@pytest.fixture(scope="module")
def people(ccp_val):
    """Three val photos and the person found in each."""
    with PoseDetector(select_variant("pose_detection", backend="litert", precision="fp32")) as detector:
        found = [(image, detector(image)[0]) for image in (read_image(p["path"]) for p in ccp_val[:3])]
    return found


@pytest.mark.parametrize(("backend", "precision"), CASES)
def test_one_batch_of_two_reads_what_two_calls_read(people, backend, precision):
    if not is_available(backend):
        pytest.skip(f"{backend} is not installed")
    try:
        manifest = select_variant("pose_landmarks", backend=backend, precision=precision)
    except ModelNotFoundError as error:
        pytest.skip(str(error))
    with (
        PoseLandmarker(manifest, threads=2, mirror_average=True) as paired,
        PoseLandmarker(
            manifest, mirror_average=True, loaded_backend=open_backend(manifest.model_path, backend=backend, threads=2)
        ) as one_by_one,
    ):
        assert paired.reads_pairs and not one_by_one.reads_pairs
        assert paired.model.backend.inputs[0].shape[0] == 2
        for image, detection in people:
            a, b = paired(image, detection), one_by_one(image, detection)
            assert a is not None and b is not None
            # The same landmarks to well under a pixel of the 256-px crop (batch kernels may sum in another order).
            scale = detection.roi.size / manifest.input.width
            assert np.abs(a.keypoints[:, :2] - b.keypoints[:, :2]).max() < 0.05 * scale
            assert np.abs(a.visibility - b.visibility).max() < 1e-3
            assert a.score == pytest.approx(b.score, abs=1e-3)
