"""The BlazePose stage and the shot/facing classifier on real photos, against the issue's figures."""

from __future__ import annotations

import csv
from dataclasses import dataclass

import numpy as np
import pytest

from converters.fetch.blazepose_spec import DETECTION
from edge_bml.evaluation.pose_eval import mirrored_landmark_agreement
from edge_bml.geometry import RotatedRect
from edge_bml.image_io import read_image
from edge_bml.stages.pose import PersonPose, PoseEstimator, PoseOptions
from edge_bml.stages.pose_classifier import PoseClass, PoseClassifier
from edge_bml.stages.ssd_anchors import generate_anchors
from edge_bml.stages.weighted_nms import weighted_nms


@dataclass
class Seen:
    pose: PersonPose | None
    decision: PoseClass
    size: tuple[int, int]


@pytest.fixture(scope="module")
def estimator():
    with PoseEstimator.create_from_options(PoseOptions(backend="litert", precision="fp32")) as est:
        yield est


def _analyse(estimator, image: np.ndarray) -> Seen:
    result = estimator(np.ascontiguousarray(image))
    return Seen(result.main, PoseClassifier()(result.main, result.image_size), result.image_size)


@pytest.fixture(scope="module")
def val_runs(estimator, ccp_val):
    """Each CCP val photo as is, cut to its top 55%, and mirrored."""
    runs = []
    for image in ccp_val:
        rgb = read_image(image["path"])
        runs.append(
            {
                "file": image["file"],
                "full": _analyse(estimator, rgb),
                "top": _analyse(estimator, rgb[: int(rgb.shape[0] * 0.55)]),
                "flip": _analyse(estimator, rgb[:, ::-1]),
            }
        )
    return runs


def test_anchor_layout_matches_the_model():
    options = DETECTION["decoder"]["anchors"]
    anchors = generate_anchors(options)
    assert anchors.shape == (28 * 28 * 2 + 14 * 14 * 2 + 7 * 7 * 6, 4)
    np.testing.assert_allclose(anchors[0], [0.5 / 28, 0.5 / 28, 1, 1])
    np.testing.assert_allclose(anchors[-1], [6.5 / 7, 6.5 / 7, 1, 1])


def test_weighted_nms_averages_overlaps_and_keeps_separate_boxes():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], np.float32)
    scores = np.array([0.9, 0.3, 0.8], np.float32)
    points = boxes[:, None, :2].copy()
    out_boxes, out_scores, out_points = weighted_nms(boxes, scores, points, iou_threshold=0.3)
    assert out_scores.tolist() == pytest.approx([0.9, 0.8])
    np.testing.assert_allclose(out_boxes[0], [0.25, 0.25, 10.25, 10.25])
    np.testing.assert_allclose(out_points[0, 0], [0.25, 0.25])
    np.testing.assert_allclose(out_boxes[1], boxes[2])


def test_rotated_crop_maps_back_to_the_image():
    rect = RotatedRect(center_x=100, center_y=80, size=64, rotation=np.pi / 2)
    image = np.zeros((200, 200, 3), np.uint8)
    image[80, 110] = 255  # 10 px right of the centre
    crop = rect.crop(image, 64)
    # Rotated a quarter turn clockwise, "right of centre" in the image is "above centre" in the crop.
    y, x = np.unravel_index(crop[..., 0].argmax(), crop.shape[:2])
    assert (y, x) == (21, 32)
    # Continuous coordinates: pixel i spans [i, i + 1).
    centre = np.array([[x + 0.5, y + 0.5]], np.float32)
    np.testing.assert_allclose(rect.to_image(centre, 64), [[110.5, 80.5]], atol=1e-4)


@pytest.mark.slow
def test_full_shots_are_full_shots(val_runs):
    share = np.mean([r["full"].decision.shot == "full_shot" for r in val_runs])
    assert len(val_runs) == 159
    assert share >= 0.95, f"only {share:.1%} of CCP val photos classified full_shot"


def test_top_55_percent_is_not_a_full_shot(val_runs):
    share = np.mean([r["top"].decision.shot != "full_shot" for r in val_runs])
    assert share >= 0.95, f"only {share:.1%} of cut photos classified other than full_shot"
    cut = [r["top"].decision for r in val_runs if r["top"].decision.shot == "upper_body"]
    assert any("below the bottom edge" in " ".join(d.reasons) for d in cut)


def test_garment_photos_have_no_person(estimator, data_dir):
    with open(data_dir / "clothing" / "items.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))[:50]
    decisions = [_analyse(estimator, read_image(data_dir / "clothing" / r["file"])).decision for r in rows]
    share = np.mean([d.shot == "no_person" for d in decisions])
    assert share >= 0.9, f"only {share:.1%} of garment photos gave no_person"
    assert all(d.facing is None for d in decisions if d.shot == "no_person")


def test_mirroring_swaps_left_and_right_and_keeps_front(val_runs):
    swap = {"left": "right", "right": "left", "front": "front", "back": "back"}
    pairs = [(r["full"].decision.facing, r["flip"].decision.facing) for r in val_runs]
    fronts = [b == "front" for a, b in pairs if a == "front"]
    sides = [b == swap[a] for a, b in pairs if a in ("left", "right")]
    assert len(fronts) > 100
    assert np.mean(fronts) >= 0.95
    assert len(sides) >= 3, "CCP val should hold a few side views (4 with the default pose variants)"
    assert np.mean(sides) >= 0.75  # 4 of 4 swap here; evaluate pose gives 0.8 with other variants


def test_mirrored_landmarks_match(val_runs):
    close = []
    for run in val_runs:
        close.extend(mirrored_landmark_agreement(run["full"].pose, run["flip"].pose, run["full"].size[0]))
    share = np.mean(close)
    assert share >= 0.9, f"only {share:.1%} of visible landmarks within 5% of the torso when mirrored"


def test_litert_and_openvino_give_the_same_landmarks(estimator, ccp_val):
    with PoseEstimator.create_from_options(PoseOptions(backend="openvino", precision="fp32")) as other:
        assert other.detector.manifest.format == "openvino"
        for image in ccp_val[:15]:
            rgb = read_image(image["path"])
            a, b = estimator(rgb).main, other(rgb).main
            worst = np.abs(a.keypoints[:, :2] - b.keypoints[:, :2]).max() / max(rgb.shape[:2])
            assert worst <= 0.01, f"{image['file']}: landmarks differ by {worst:.2%} of the image"


def test_largest_central_person_first_and_all_on_request(ccp_val):
    big = read_image(ccp_val[0]["path"])
    small = read_image(ccp_val[1]["path"])
    small = small[::2, ::2]
    canvas = np.zeros((big.shape[0], big.shape[1] + small.shape[1], 3), np.uint8)
    canvas[:, : big.shape[1]] = big
    canvas[: small.shape[0], big.shape[1] :] = small
    with PoseEstimator.create_from_options(PoseOptions(max_people=3)) as est:
        people = est(canvas).people
    assert len(people) == 2
    boxes = [p.person_box for p in people]
    assert boxes[0][2] <= big.shape[1] + 20, "the big person on the left should come first"
    assert boxes[1][0] >= big.shape[1] - 20
    with PoseEstimator.create_from_options() as est:
        assert len(est(canvas).people) == 1


def test_person_box_covers_the_labelled_person(val_runs, ccp_val):
    from edge_bml.geometry import box_iou

    ious = []
    for run, image in zip(val_runs, ccp_val):
        box = run["full"].pose.person_box
        ious.append(box_iou(np.asarray(image["person_box"], np.float32), box[None])[0])
    assert np.median(ious) >= 0.75, f"median IoU with the labelled person box is {np.median(ious):.2f}"
