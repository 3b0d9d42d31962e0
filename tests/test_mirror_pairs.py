"""The mirror pass as one batch of two: the runtimes resize the landmark model, and the landmarks stay those
of two separate reads."""

from __future__ import annotations

import numpy as np
import pytest

from edge_bml.backends import is_available, open_backend
from edge_bml.errors import BackendUnavailableError, ModelNotFoundError
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


def test_a_fixed_batch_onnx_model_says_it_cannot_take_pairs(tmp_path):
    """ONNX Runtime cannot resize a fixed batch: a typed error (the landmarker then reads twice)."""
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"])],
        "relu",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])],
    )
    path = tmp_path / "relu.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
    with pytest.raises(BackendUnavailableError, match="fixed batch"):
        open_backend(path, batch=2)
    with open_backend(path, batch=1) as backend:
        assert backend.inputs[0].shape == (1, 3)
    with pytest.raises(ValueError, match="batch must be >= 1"):
        open_backend(path, batch=0)
