"""Calibration tensors are the runtime's tensors: the same function makes both, for every task."""

from __future__ import annotations

import numpy as np

from converters.quantize.calibration import TaskInputs
from edge_bml.image_io import read_image
from edge_bml.model_registry import select_variant
from edge_bml.stages.detector import ArticleDetector
from edge_bml.stages.embedder import ArticleEmbedder
from edge_bml.stages.pose import PoseDetector, PoseEstimator, PoseOptions


def _recorded(stage):
    """Wrap ``stage.infer`` to keep the tensors the stage really feeds its model."""
    seen = []
    infer = stage.infer

    def keep(tensor):
        seen.append(np.array(tensor))
        return infer(tensor)

    stage.infer = keep
    return seen


def test_calibration_feeds_each_model_what_its_stage_feeds_it(ccp_val):
    image = read_image(ccp_val[0]["path"])
    fp32 = PoseOptions(precision="fp32", backend="litert", mirror_average=False)
    with PoseEstimator.create_from_options(fp32) as pose:
        detector_seen = _recorded(pose.detector)
        landmark_seen = _recorded(pose.landmarker)
        pose(image)
        with TaskInputs(pose.detector.manifest) as inputs:
            np.testing.assert_array_equal(inputs.from_image(image), detector_seen[0])
        with TaskInputs(pose.landmarker.manifest, detector_manifest=pose.detector.manifest) as inputs:
            np.testing.assert_array_equal(inputs.from_image(image), landmark_seen[0])
    articles = select_variant("detector", precision="fp32", backend="onnxruntime")
    with PoseEstimator.create_from_options(PoseOptions(precision="fp32")) as calibration_pose:
        person = calibration_pose(image).main  # the person calibration finds (FP32 pose stage, as TaskInputs)
    with ArticleDetector(articles) as detector, TaskInputs(articles) as inputs:
        seen = _recorded(detector)
        detector(image, person.person_box)
        np.testing.assert_allclose(inputs.from_image(image), seen[0], atol=1e-6)
    embedder_manifest = select_variant("embedder", precision="fp32", backend="onnxruntime")
    crop = image[200:420, 150:330]
    with ArticleEmbedder(embedder_manifest) as embedder, TaskInputs(embedder_manifest) as inputs:
        seen = _recorded(embedder)
        embedder.embed([crop])
        np.testing.assert_array_equal(inputs.from_image(crop), seen[0])


def test_a_mirrored_tensor_is_the_mirrored_crop_normalised(ccp_val):
    image = read_image(ccp_val[1]["path"])
    with PoseDetector(select_variant("pose_detection", precision="fp32", backend="litert")) as finder:
        roi = finder(image)[0].roi
    from edge_bml.stages.inputs import landmark_input

    manifest = select_variant("pose_landmarks", precision="fp32", backend="litert")
    tensor = landmark_input(manifest, image, roi)
    crop = roi.crop(image, manifest.input.width)
    axis = 3 if manifest.input.layout == "NCHW" else 2
    np.testing.assert_array_equal(np.flip(tensor, axis=axis), manifest.input.normalize(crop[:, ::-1]))
    assert not np.array_equal(tensor, np.flip(tensor, axis=axis)), "a symmetric crop would tell nothing"
