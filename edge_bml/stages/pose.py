"""BlazePose, two steps: a person detector (SSD anchors, weighted NMS) picks an aligned square
region, and the landmark model reads 33 body landmarks from that region, rotated upright.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from edge_bml.backends import Backend
from edge_bml.errors import BackendUnavailableError
from edge_bml.geometry import RotatedRect
from edge_bml.runtime_choice import RuntimeChoice
from edge_bml.stages.inputs import landmark_input, pose_detection_input
from edge_bml.stages.model_stage import ModelStage
from edge_bml.stages.ssd_anchors import generate_anchors
from edge_bml.stages.weighted_nms import weighted_nms
from edge_bml.timing import StageTimer

LANDMARK_NAMES = (
    "nose",
    "left_eye_inner",
    "left_eye",
    "left_eye_outer",
    "right_eye_inner",
    "right_eye",
    "right_eye_outer",
    "left_ear",
    "right_ear",
    "mouth_left",
    "mouth_right",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_pinky",
    "right_pinky",
    "left_index",
    "right_index",
    "left_thumb",
    "right_thumb",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
    "left_heel",
    "right_heel",
    "left_foot_index",
    "right_foot_index",
)
# Pairs of landmarks that swap when a photo is mirrored.
MIRROR_INDEX = np.array(
    [
        0,
        4,
        5,
        6,
        1,
        2,
        3,
        8,
        7,
        10,
        9,
        12,
        11,
        14,
        13,
        16,
        15,
        18,
        17,
        20,
        19,
        22,
        21,
        24,
        23,
        26,
        25,
        28,
        27,
        30,
        29,
        32,
        31,
    ]
)
SKELETON = (
    (11, 12),
    (11, 13),
    (13, 15),
    (12, 14),
    (14, 16),
    (11, 23),
    (12, 24),
    (23, 24),
    (23, 25),
    (25, 27),
    (24, 26),
    (26, 28),
    (27, 29),
    (29, 31),
    (27, 31),
    (28, 30),
    (30, 32),
    (28, 32),
    (0, 2),
    (0, 5),
    (2, 7),
    (5, 8),
    (9, 10),
)

# The landmark crop's grid: a whole-body ROI is hundreds of pixels wide, so 4 px is far inside BlazePose's
# own ROI error, and far outside the float noise between CPUs.
ROI_GRID_PX = 4


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -60.0, 60.0)))


@dataclass(frozen=True)
class PersonDetection:
    """One detected person: a face-centred box, 4 alignment keypoints, score, and the landmark ROI."""

    box: np.ndarray
    keypoints: np.ndarray
    score: float
    roi: RotatedRect


@dataclass(frozen=True)
class PersonPose:
    """33 landmarks of one person in image pixels.

    ``keypoints`` is (33, 3): x, y in pixels and z, a relative depth on the same scale
    (smaller is nearer the camera). ``visibility`` and ``presence`` are probabilities.
    """

    keypoints: np.ndarray
    visibility: np.ndarray
    presence: np.ndarray
    score: float
    detection: PersonDetection

    @property
    def person_box(self) -> np.ndarray:
        """xyxy box around the landmarks, widened to cover the head top and the limbs' width."""
        xy = self.keypoints[:, :2]
        x0, y0 = xy.min(0)
        x1, y1 = xy.max(0)
        shoulder_width = float(np.linalg.norm(xy[11] - xy[12]))
        head = max(shoulder_width * 0.6, (y1 - y0) * 0.06)
        side = max(shoulder_width * 0.35, (x1 - x0) * 0.08)
        return np.array([x0 - side, y0 - head, x1 + side, y1 + head * 0.3], np.float32)


@dataclass(frozen=True)
class PoseResult:
    """All people found in one image, the main one first, and the stage timings."""

    people: list[PersonPose] = field(default_factory=list)
    image_size: tuple[int, int] = (0, 0)
    timings_ms: dict[str, float] = field(default_factory=dict)

    @property
    def main(self) -> PersonPose | None:
        return self.people[0] if self.people else None


class PoseDetector(ModelStage):
    """Finds people; each detection carries the rotated ROI the landmark model reads."""

    task = "pose_detection"

    def __init__(self, manifest, *, threads: int | None = None, loaded_backend: Backend | None = None) -> None:
        super().__init__(manifest, threads=threads, loaded_backend=loaded_backend)
        decoder = manifest.decoder
        self.anchors = generate_anchors(decoder["anchors"])
        self.score_threshold = float(decoder.get("min_score_thresh", 0.5))
        self.nms_threshold = float(decoder.get("min_suppression_threshold", 0.3))
        self.clip = float(decoder.get("score_clipping_thresh", 100.0))
        self.box_scale = np.array(
            [decoder["x_scale"], decoder["y_scale"], decoder["w_scale"], decoder["h_scale"]], np.float32
        )
        self.num_keypoints = int(decoder["num_keypoints"])
        roi = decoder["roi"]
        self.roi_start, self.roi_end = int(roi["start_keypoint"]), int(roi["end_keypoint"])
        self.roi_angle = math.radians(float(roi["target_angle_degrees"]))
        self.roi_scale = float(roi["scale"])
        self.require_output_values(
            "boxes", len(self.anchors) * int(decoder.get("num_coords", 4 + 2 * self.num_keypoints))
        )
        self.require_output_values("scores", len(self.anchors))

    def preprocess(self, image: np.ndarray):
        return pose_detection_input(self.manifest, image)

    def postprocess(self, outputs: dict[str, np.ndarray], box, image_size: tuple[int, int]) -> list[PersonDetection]:
        raw = outputs["boxes"].reshape(len(self.anchors), -1)
        scores = _sigmoid(np.clip(outputs["scores"].reshape(-1), -self.clip, self.clip))
        keep = scores >= self.score_threshold
        if not keep.any():
            return []
        raw, scores, anchors = raw[keep], scores[keep], self.anchors[keep]
        spec = self.manifest.input
        size = np.array([spec.width, spec.height], np.float32)
        centre = raw[:, 0:2] / self.box_scale[:2] * anchors[:, 2:4] + anchors[:, 0:2]
        wh = raw[:, 2:4] / self.box_scale[2:4] * anchors[:, 2:4]
        boxes = np.hstack([centre - wh / 2, centre + wh / 2]) * np.tile(size, 2)
        kps = raw[:, 4 : 4 + 2 * self.num_keypoints].reshape(-1, self.num_keypoints, 2)
        kps = (kps / self.box_scale[:2] * anchors[:, None, 2:4] + anchors[:, None, 0:2]) * size
        boxes, scores, kps = weighted_nms(boxes, scores, kps, iou_threshold=self.nms_threshold)
        detections = []
        for b, s, k in zip(boxes, scores, kps):
            b_img = box.to_image(b.reshape(2, 2)).reshape(4)
            k_img = box.to_image(k)
            detections.append(PersonDetection(box=b_img, keypoints=k_img, score=float(s), roi=self._roi(k_img)))
        return detections

    def _roi(self, keypoints: np.ndarray) -> RotatedRect:
        """The landmark model's rotated square, its centre and side on a ``ROI_GRID_PX`` grid: float detector
        outputs differ in their last digits between CPUs, and on a grid the crop the landmark model reads
        stays the same unless a value sits that close to a grid line. (The angle stays as it is: snapping it
        to 2 degrees cost the detector 0.01-0.02 mAP@0.5 downstream on CCP val.)"""
        start, end = keypoints[self.roi_start], keypoints[self.roi_end]
        size = 2.0 * float(np.linalg.norm(end - start)) * self.roi_scale
        angle = self.roi_angle - math.atan2(-(end[1] - start[1]), end[0] - start[0])
        angle = angle - 2 * math.pi * math.floor((angle + math.pi) / (2 * math.pi))
        step = ROI_GRID_PX
        return RotatedRect(
            float(round(start[0] / step) * step),
            float(round(start[1] / step) * step),
            float(max(step, round(size / step) * step)),
            angle,
        )

    def __call__(self, image: np.ndarray) -> list[PersonDetection]:
        """Detect people in an RGB image, best score first."""
        tensor, box = self.preprocess(image)
        return self.postprocess(self.infer(tensor), box, image.shape[1::-1])


def refine_from_heatmap(xy: np.ndarray, heatmap: np.ndarray, *, kernel: int, min_confidence: float) -> np.ndarray:
    """MediaPipe's heatmap refinement: each landmark moves to the confidence-weighted centre of the
    ``kernel`` x ``kernel`` heatmap window around it, where that window is confident enough.

    ``xy`` is (N, 2) in [0, 1] crop coordinates; ``heatmap`` is (H, W, >= N) of logits.
    """
    rows, cols = heatmap.shape[:2]
    half = (kernel - 1) // 2
    refined = xy.copy()
    for i, (x, y) in enumerate(xy):
        col, row = int(x * cols), int(y * rows)
        if not (0 <= col < cols and 0 <= row < rows):
            continue
        r0, r1 = max(0, row - half), min(rows, row + half + 1)
        c0, c1 = max(0, col - half), min(cols, col + half + 1)
        confidence = _sigmoid(heatmap[r0:r1, c0:c1, i])
        total = confidence.sum()
        if confidence.max() < min_confidence or total <= 0:
            continue
        grid_r, grid_c = np.mgrid[r0:r1, c0:c1]
        refined[i, 0] = (grid_c * confidence).sum() / total / cols
        refined[i, 1] = (grid_r * confidence).sum() / total / rows
    return refined


class PoseLandmarker(ModelStage):
    """Reads 33 landmarks from the rotated square around one person.

    With ``mirror_average`` the crop and its mirror go through the model as one batch of two where the
    runtime can resize the model's batch (OpenVINO, LiteRT): one call costs less than two on 2 threads
    (``benchmarks/test_mirror_pass.py``). Elsewhere they are read one after the other.
    """

    task = "pose_landmarks"

    def __init__(
        self,
        manifest,
        *,
        threads: int | None = None,
        mirror_average: bool = False,
        loaded_backend: Backend | None = None,
    ) -> None:
        if mirror_average and loaded_backend is None:
            try:
                super().__init__(manifest, threads=threads, batch=2)
            except BackendUnavailableError:  # this runtime cannot resize the model: two calls instead
                super().__init__(manifest, threads=threads)
        else:
            super().__init__(manifest, threads=threads, loaded_backend=loaded_backend)
        # Whether one call reads the crop and its mirror together.
        self.reads_pairs = bool(mirror_average and self.model.backend.inputs[0].shape[:1] == (2,))
        self.mirror_average = mirror_average
        decoder = manifest.decoder
        self.num_landmarks = int(decoder.get("num_landmarks", 33))
        self.values = int(decoder.get("values_per_landmark", 5))
        self.min_pose_score = float(decoder.get("min_pose_score", 0.5))
        refine = decoder.get("heatmap_refinement") or {}
        self.refine_kernel = int(refine.get("kernel_size", 0))
        self.refine_min_confidence = float(refine.get("min_confidence", 0.5))
        self.require_output_values("landmarks", self.num_landmarks * self.values, at_least=True)

    def _read(self, outputs: dict[str, np.ndarray], item: int = 0) -> tuple[float, np.ndarray, np.ndarray]:
        """Pose score, (N, 2) landmarks in [0, 1] crop coordinates and the raw (N, values) rows of one
        image of the batch the model read."""
        spec = self.manifest.input
        score = float(outputs["pose_flag"][item].reshape(-1)[0])
        raw = outputs["landmarks"][item].reshape(-1, self.values)[: self.num_landmarks]
        crop_xy = raw[:, :2] / np.array([spec.width, spec.height], np.float32)
        if self.refine_kernel and "heatmap" in outputs:
            crop_xy = refine_from_heatmap(
                crop_xy, outputs["heatmap"][item], kernel=self.refine_kernel, min_confidence=self.refine_min_confidence
            )
        return score, crop_xy, raw

    def __call__(self, image: np.ndarray, detection: PersonDetection) -> PersonPose | None:
        """Landmarks of the person in ``detection``, or None where the model says no pose is there."""
        spec = self.manifest.input
        tensor = landmark_input(self.manifest, image, detection.roi)
        if self.mirror_average:
            width_axis = 3 if spec.layout == "NCHW" else 2  # the mirrored crop, normalised the same way
            mirrored = np.flip(tensor, axis=width_axis)
        outputs = self.infer(np.concatenate([tensor, mirrored]) if self.reads_pairs else tensor)
        score, crop_xy, raw = self._read(outputs)
        if score < self.min_pose_score:
            return None
        if self.mirror_average:
            if self.reads_pairs:
                _, mirror_xy, mirror_raw = self._read(outputs, 1)
            else:
                _, mirror_xy, mirror_raw = self._read(self.infer(np.ascontiguousarray(mirrored)))
            mirror_xy = mirror_xy[MIRROR_INDEX]
            mirror_xy[:, 0] = 1.0 - mirror_xy[:, 0]
            crop_xy = (crop_xy + mirror_xy) / 2
            raw = (raw + mirror_raw[MIRROR_INDEX]) / 2
        xy = detection.roi.to_image(crop_xy * spec.width, spec.width)
        z = raw[:, 2:3] * detection.roi.size / spec.width
        return PersonPose(
            keypoints=np.hstack([xy, z]).astype(np.float32),
            visibility=_sigmoid(raw[:, 3]).astype(np.float32),
            presence=_sigmoid(raw[:, 4]).astype(np.float32),
            score=score,
            detection=detection,
        )


@dataclass(frozen=True)
class PoseOptions:
    """How the pose stage runs. ``backend``/``precision`` 'auto' pick the fastest variant that passed.

    ``mirror_average`` also reads the mirrored crop and averages the two (a second landmark inference):
    BlazePose alone is not mirror-symmetric (86% of visible landmarks of a mirrored CCP photo land
    within 5% of the torso of the mirrored result; 96% with averaging).
    """

    backend: str = "auto"
    precision: str = "auto"
    threads: int | None = None
    max_people: int = 1
    mirror_average: bool = True

    @property
    def runtime(self) -> RuntimeChoice:
        """The runtime, precision and threads both pose models run with."""
        return RuntimeChoice(self.backend, self.precision, self.threads)


def _rank(pose: PersonPose, width: int, height: int) -> float:
    """Bigger and more central people first."""
    x0, y0, x1, y1 = pose.person_box
    area = max(x1 - x0, 0) * max(y1 - y0, 0) / (width * height)
    cx, cy = (x0 + x1) / 2 / width - 0.5, (y0 + y1) / 2 / height - 0.5
    return area - 0.5 * math.hypot(cx, cy) ** 2


class PoseEstimator:
    """The pose stage: detector then landmarks, timed as ``pose_detect`` and ``pose_landmarks``."""

    def __init__(self, detector: PoseDetector, landmarker: PoseLandmarker, *, max_people: int = 1) -> None:
        self.detector = detector
        self.landmarker = landmarker
        self.max_people = max_people

    @classmethod
    def create_from_options(cls, options: PoseOptions | None = None) -> PoseEstimator:
        """Load both BlazePose models as the options say.

        Raises:
            ModelNotFoundError: no installed variant matches; BackendUnavailableError; ChecksumMismatchError.
        """
        options = options or PoseOptions()
        detector = PoseDetector.create_from_choice(options.runtime)
        try:
            landmarker = PoseLandmarker.create_from_choice(options.runtime, mirror_average=options.mirror_average)
        except Exception:
            detector.close()
            raise
        return cls(detector, landmarker, max_people=options.max_people)

    def __call__(self, image: np.ndarray, *, timer: StageTimer | None = None) -> PoseResult:
        """Find up to ``max_people`` people in an RGB uint8 image, the main person first."""
        timer = timer or StageTimer()
        height, width = image.shape[:2]
        with timer.stage("pose_detect"):
            detections = self.detector(image)
        people = []
        with timer.stage("pose_landmarks"):
            for detection in detections[: max(self.max_people * 2, 2)]:
                pose = self.landmarker(image, detection)
                if pose is not None:
                    people.append(pose)
        people.sort(key=lambda p: -_rank(p, width, height))
        return PoseResult(
            people=people[: self.max_people], image_size=(width, height), timings_ms=timer.as_dict(total=False)
        )

    @property
    def choices(self) -> dict:
        """The variant each of the two models runs and why it was chosen (``VariantChoice`` by task)."""
        return {"pose_detection": self.detector.choice, "pose_landmarks": self.landmarker.choice}

    def close(self) -> None:
        self.detector.close()
        self.landmarker.close()

    def __enter__(self) -> PoseEstimator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
