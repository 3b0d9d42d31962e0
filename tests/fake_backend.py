"""A fake inference backend with scripted outputs, so the look's own logic is tested without models or data.

``FakeBackend`` implements the same narrow ``Backend`` adapter the real runtimes do (specs, ``run`` with
the real input validation, ``close``) and answers with outputs shaped exactly like the shipped models'
(BlazePose detection and landmarks, the YOLO-layout article detector, the embedder). Stages take it as
``loaded_backend``, so their real pre- and post-processing runs on the scripted outputs. The helpers
below write the outputs a real model would give for a scene described in photo pixels.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from converters.fetch.blazepose_spec import DETECTION, LANDMARKS
from edge_bml.backends import Backend, TensorSpec
from edge_bml.data_fetch.sources import CCP_CATEGORIES
from edge_bml.manifest import InputSpec, ModelManifest, load_manifest, parse_manifest, sha256_file, write_manifest
from edge_bml.stages.pose import MIRROR_INDEX, ROI_GRID_PX
from edge_bml.stages.ssd_anchors import generate_anchors

Outputs = dict[str, np.ndarray]
Respond = Callable[[Mapping[str, np.ndarray]], Outputs]

F32 = np.dtype(np.float32)
IMAGENET = {"mean": [123.675, 116.28, 103.53], "std": [58.395, 57.12, 57.375]}
DETECTOR_LABELS = tuple(CCP_CATEGORIES)  # the shipped detector's classes, in its order
DETECTOR_POINTS = 1512  # YOLOv8 points of a 192 x 384 input: strides 8, 16 and 32
EMBEDDER_DIMS = 256
LANDMARK_ROWS = 39  # BlazePose's landmark output: 33 body landmarks and 6 auxiliary ones, 5 values each

# The shipped BlazePose detector's decoder (MediaPipe's, as fetched): the anchors its boxes are relative to.
POSE_DETECTION_DECODER: dict[str, Any] = DETECTION["decoder"]
POSE_ANCHORS = generate_anchors(POSE_DETECTION_DECODER["anchors"])

# The manifest fields the pose tasks take from the fetched BlazePose spec.
MANIFEST_FIELDS = ("input", "outputs", "labels", "decoder")

# Per task: the manifest fields and the tensors of the shipped models (names, shapes, dtypes).
VARIANTS: dict[str, dict[str, Any]] = {
    "pose_detection": {
        **{key: DETECTION[key] for key in MANIFEST_FIELDS},
        "tensors": (
            [TensorSpec("input_1", (1, 224, 224, 3), F32)],
            [
                TensorSpec("Identity", (1, len(POSE_ANCHORS), 12), F32),
                TensorSpec("Identity_1", (1, len(POSE_ANCHORS), 1), F32),
            ],
        ),
    },
    "pose_landmarks": {
        **{key: LANDMARKS[key] for key in MANIFEST_FIELDS},
        "tensors": (
            [TensorSpec("input_1", (1, 256, 256, 3), F32)],
            [
                TensorSpec("Identity", (1, LANDMARK_ROWS * 5), F32),
                TensorSpec("Identity_1", (1, 1), F32),
                TensorSpec("Identity_2", (1, 256, 256, 1), F32),
                TensorSpec("Identity_3", (1, 64, 64, 39), F32),
                TensorSpec("Identity_4", (1, 117), F32),
            ],
        ),
    },
    "detector": {
        "input": {"name": "images", "width": 192, "height": 384, "layout": "NCHW", **IMAGENET},
        "outputs": {"predictions": "output0"},
        "labels": list(DETECTOR_LABELS),
        "decoder": {
            "score_threshold": 0.25,
            "iou_threshold": 0.5,
            "max_detections": 50,
            "person_crop_margin": 0.08,
            "candidate_score_threshold": 0.05,
        },
        "tensors": (
            [TensorSpec("images", (1, 3, 384, 192), F32)],
            [TensorSpec("output0", (1, 4 + len(DETECTOR_LABELS), DETECTOR_POINTS), F32)],
        ),
    },
    "embedder": {
        "input": {"name": "image", "width": 192, "height": 192, "layout": "NCHW", **IMAGENET},
        "outputs": {"embedding": "embedding"},
        "labels": [],
        "decoder": {"dims": EMBEDDER_DIMS, "metric": "cos", "normalized": True, "pad_value": 124},
        "tensors": (
            [TensorSpec("image", (-1, 3, 192, 192), F32)],
            [TensorSpec("embedding", (-1, EMBEDDER_DIMS), F32)],
        ),
    },
}


def write_fake_variant(root: Path, task: str, *, name: str | None = None, **changes: Any) -> ModelManifest:
    """A variant folder for ``task`` as the shipped one has it, with a placeholder model file.

    The model file's bytes name the variant, so each name has its own sha256 (the embedder identity a
    catalog records). ``changes`` replace top-level manifest fields (``decoder``, ``labels``, ...).
    """
    name = name or f"fake_{task}"
    spec = VARIANTS[task]
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    model = folder / "model.onnx"
    model.write_bytes(f"fake model {name}\n".encode())
    data = {
        "name": name,
        "task": task,
        "format": "onnx",
        "precision": "fp32",
        "model_file": model.name,
        "sha256": {model.name: sha256_file(model)},
        "input": dict(spec["input"]),
        "outputs": dict(spec["outputs"]),
        "labels": list(spec["labels"]),
        "decoder": dict(spec["decoder"]),
        **changes,
    }
    write_manifest(parse_manifest(data, folder))
    return load_manifest(folder)


class FakeBackend(Backend):
    """A model that answers with scripted outputs; it records every run and whether it was closed.

    ``respond`` is a fixed dict of outputs or a function of the (validated) inputs. Inputs are checked
    against ``inputs`` by the real ``Backend.run``; the outputs are checked against ``outputs``, as a real
    runtime only ever returns its own tensors (declare other specs to fake a model of another shape).
    """

    name = "fake"

    def __init__(
        self,
        manifest: ModelManifest,
        respond: Respond | Mapping[str, np.ndarray],
        *,
        inputs: Sequence[TensorSpec] | None = None,
        outputs: Sequence[TensorSpec] | None = None,
    ) -> None:
        super().__init__(manifest.model_path)
        default_inputs, default_outputs = VARIANTS[manifest.task]["tensors"]
        self._inputs = list(inputs if inputs is not None else default_inputs)
        self._outputs = list(outputs if outputs is not None else default_outputs)
        self._respond = respond
        self.calls: list[dict[str, np.ndarray]] = []
        self.closed = False

    @property
    def inputs(self) -> list[TensorSpec]:
        return list(self._inputs)

    @property
    def outputs(self) -> list[TensorSpec]:
        return list(self._outputs)

    @property
    def batch_sizes(self) -> list[int]:
        """The batch size of each run so far (first axis of the first input)."""
        first = self._inputs[0].name
        return [int(call[first].shape[0]) for call in self.calls]

    def _run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        if self.closed:
            raise RuntimeError(f"{self.path.name}: run after close")
        self.calls.append({name: array.copy() for name, array in feeds.items()})
        answer = self._respond(feeds) if callable(self._respond) else dict(self._respond)
        specs = {spec.name: spec for spec in self._outputs}
        if set(answer) != set(specs):
            raise ValueError(f"script error: outputs {sorted(answer)}, the fake model has {sorted(specs)}")
        result = {}
        for name, value in answer.items():
            value = np.asarray(value, specs[name].dtype)
            want = specs[name].shape
            if len(want) != value.ndim or any(w > 0 and w != g for w, g in zip(want, value.shape)):
                raise ValueError(f"script error: output {name!r} has shape {value.shape}, the spec says {want}")
            result[name] = value
        return result

    def close(self) -> None:
        self.closed = True


# ---- BlazePose: a person scripted in photo pixels ----------------------------------------------------


def _letterbox_to_input(xy: np.ndarray, image_size: tuple[int, int], side: int) -> np.ndarray:
    """Photo pixels -> pixels of the ``side`` x ``side`` letterboxed input (centred, aspect kept)."""
    width, height = image_size
    scale = min(side / width, side / height)
    new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
    pad = np.array([int((side - new_w) / 2), int((side - new_h) / 2)], np.float64)
    return np.asarray(xy, np.float64) * np.array([new_w / width, new_h / height]) + pad


def pose_detection_outputs(
    image_size: tuple[int, int], start: Sequence[float], end: Sequence[float], *, score_logit: float = 10.0
) -> Outputs:
    """What the BlazePose detector gives for one person whose alignment keypoints are ``start`` (hip
    centre) and ``end`` (above the head) in photo pixels: one confident anchor, every other one silent.

    A ``score_logit`` under the manifest's threshold scripts a photo with nobody in it.
    """
    side = VARIANTS["pose_detection"]["input"]["width"]
    points = _letterbox_to_input(np.array([start, end, start, start]), image_size, side) / side
    centre = points[:2].mean(0)
    extent = np.abs(points[1] - points[0]).max() * 1.2
    anchor = int(np.argmin(np.linalg.norm(POSE_ANCHORS[:, :2] - centre, axis=1)))
    offset = POSE_ANCHORS[anchor, :2]  # fixed-size anchors: width and height 1
    boxes = np.zeros((1, len(POSE_ANCHORS), 12), np.float32)
    boxes[0, anchor, :4] = [*((centre - offset) * side), extent * side, extent * side]
    boxes[0, anchor, 4:] = ((points - offset) * side).reshape(-1)
    scores = np.full((1, len(POSE_ANCHORS), 1), -20.0, np.float32)
    scores[0, anchor, 0] = score_logit
    return {"Identity": boxes, "Identity_1": scores}


@dataclass(frozen=True)
class ScriptedPose:
    """33 landmarks in photo pixels with their visibility and presence logits, and the pose flag."""

    xy: np.ndarray
    visibility_logit: np.ndarray
    presence_logit: np.ndarray
    pose_flag: float = 0.99

    @property
    def start(self) -> np.ndarray:
        """The detector's first alignment keypoint: the hip centre."""
        return self.xy[[23, 24]].mean(0)

    @property
    def end(self) -> np.ndarray:
        """The second one, straight above the hips, so the landmark crop is upright."""
        return self.start - np.array([0.0, float(np.ptp(self.xy[:, 1])) * 0.55])


def landmark_outputs(pose: ScriptedPose, *, mirrored: bool = False) -> Outputs:
    """What the landmark model gives for ``pose`` read in the upright crop the detector's keypoints make
    (``mirrored``: read in the horizontally flipped crop, so left and right landmarks swap).

    The heatmap is scripted unconfident everywhere, so the heatmap refinement leaves the landmarks be.
    """
    side = VARIANTS["pose_landmarks"]["input"]["width"]
    roi = POSE_DETECTION_DECODER["roi"]
    size = 2.0 * float(np.linalg.norm(pose.end - pose.start)) * roi["scale"]
    # The crop is centred on the start keypoint, centre and side on the stage's grid.
    size = max(ROI_GRID_PX, round(size / ROI_GRID_PX) * ROI_GRID_PX)
    origin = np.round(pose.start / ROI_GRID_PX) * ROI_GRID_PX - size / 2
    crop = (np.asarray(pose.xy, np.float64) - origin) * side / size
    raw = np.zeros((LANDMARK_ROWS, 5), np.float32)  # the 33 body landmarks, then the model's 6 auxiliary ones
    raw[:33, :2] = crop
    raw[33:, :2] = side / 2
    raw[:33, 3] = pose.visibility_logit
    raw[:33, 4] = pose.presence_logit
    if mirrored:
        raw[:33] = raw[MIRROR_INDEX]
        raw[:, 0] = side - raw[:, 0]
    return {
        "Identity": raw.reshape(1, -1),
        "Identity_1": np.array([[pose.pose_flag]], np.float32),
        "Identity_2": np.zeros((1, side, side, 1), np.float32),
        "Identity_3": np.full((1, 64, 64, 39), -10.0, np.float32),
        "Identity_4": np.zeros((1, 117), np.float32),
    }


class LandmarkResponder:
    """Answers the landmark model's runs for ``pose``: a run on the flipped copy of the crop read just
    before it (the mirror pass) gets the mirrored reading, as the real model would give."""

    def __init__(self, pose: ScriptedPose) -> None:
        self.pose = pose
        self._last: np.ndarray | None = None

    def __call__(self, feeds: Mapping[str, np.ndarray]) -> Outputs:
        (tensor,) = feeds.values()
        if self._last is not None and np.array_equal(tensor, np.flip(self._last, axis=2)):
            self._last = None
            return landmark_outputs(self.pose, mirrored=True)
        self._last = tensor
        return landmark_outputs(self.pose)


# ---- Article detector: boxes scripted in input pixels, or found as painted patches --------------------


def detector_outputs(rows: Sequence[tuple[float, float, float, float, str, float]]) -> Outputs:
    """YOLO-layout predictions ``[1, 4 + C, N]``: one point per row (x0, y0, x1, y1 in input pixels,
    label, score), every other point scoring 0."""
    out = np.zeros((1, 4 + len(DETECTOR_LABELS), DETECTOR_POINTS), np.float32)
    for point, (x0, y0, x1, y1, label, score) in enumerate(rows):
        out[0, :4, point] = [(x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0]
        out[0, 4 + DETECTOR_LABELS.index(label), point] = score
    return {"output0": out}


@dataclass(frozen=True)
class Patch:
    """A plain-coloured rectangle painted on the photo (xyxy photo pixels) that the fake detector finds."""

    box: tuple[int, int, int, int]
    colour: tuple[int, int, int]
    label: str
    score: float = 0.9


def paint(image: np.ndarray, patches: Sequence[Patch]) -> np.ndarray:
    """``image`` with ``patches`` painted on it (a copy)."""
    image = image.copy()
    for patch in patches:
        x0, y0, x1, y1 = patch.box
        image[y0:y1, x0:x1] = patch.colour
    return image


def input_pixels(tensor: np.ndarray, input_spec: InputSpec) -> np.ndarray:
    """The (B, H, W, 3) RGB pixels a normalised input batch was made from."""
    batch = np.asarray(tensor, np.float32)
    if input_spec.layout == "NCHW":
        batch = batch.transpose(0, 2, 3, 1)
    return batch * np.asarray(input_spec.std, np.float32) + np.asarray(input_spec.mean, np.float32)


def _colour_region(pixels: np.ndarray, colour: Sequence[int], tolerance: float) -> np.ndarray | None:
    """The xyxy box (continuous pixel coordinates) of the largest region of ``colour`` on a black background.

    Edge pixels that resampling blended with the black count by how much of ``colour`` they hold, so the
    box is found to a fraction of a pixel, as a well-trained detector would place it.
    """
    target = np.asarray(colour, np.float32)
    mask = (np.abs(pixels - target) <= tolerance).all(-1).astype(np.uint8)
    count, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=4)
    if count < 2:
        return None
    best = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))  # stray blended pixels elsewhere are ignored
    x, y, w, h = (int(v) for v in stats[best, :4])
    row, col = y + h // 2, x + w // 2
    coverage = np.clip(pixels @ target / float(target @ target), 0.0, 1.0)
    x0, x1 = max(x - 2, 0), min(x + w + 2, pixels.shape[1])
    y0, y1 = max(y - 2, 0), min(y + h + 2, pixels.shape[0])
    across, down = coverage[row, x0:x1], coverage[y0:y1, col]
    width, height = float(across.sum()), float(down.sum())
    cx = float((across * (np.arange(x0, x1) + 0.5)).sum()) / width
    cy = float((down * (np.arange(y0, y1) + 0.5)).sum()) / height
    return np.array([cx - width / 2, cy - height / 2, cx + width / 2, cy + height / 2], np.float32)


class PatchDetector:
    """Answers the article detector's runs: each painted patch visible in the input is found where it
    lies there (so the test sees whether the pipeline maps boxes back to the photo correctly)."""

    def __init__(self, patches: Sequence[Patch], input_spec: InputSpec, *, tolerance: float = 12.0) -> None:
        self.patches = list(patches)
        self.input_spec = input_spec
        self.tolerance = tolerance

    def __call__(self, feeds: Mapping[str, np.ndarray]) -> Outputs:
        (tensor,) = feeds.values()
        pixels = input_pixels(tensor, self.input_spec)[0]
        rows = []
        for patch in self.patches:
            box = _colour_region(pixels, patch.colour, self.tolerance)
            if box is not None:
                rows.append((*box.tolist(), patch.label, patch.score))
        return detector_outputs(rows)


# ---- Embedder: a vector per crop colour ---------------------------------------------------------------


def unit(vector: np.ndarray) -> np.ndarray:
    """``vector`` scaled to length 1."""
    vector = np.asarray(vector, np.float32)
    return vector / np.linalg.norm(vector)


def colour_vector(colour: Sequence[int], dims: int = EMBEDDER_DIMS) -> np.ndarray:
    """A fixed unit vector for a colour nobody scripted one for."""
    seed = zlib.crc32(bytes(int(c) & 0xFF for c in colour))
    return unit(np.random.default_rng(seed).standard_normal(dims))


class ColourEmbedder:
    """Answers the embedder's runs: each crop's vector is the one scripted for the colour at its centre
    (the article's own colour), else ``colour_vector`` of that colour."""

    def __init__(self, input_spec: InputSpec, vectors: Mapping[tuple[int, int, int], np.ndarray] | None = None) -> None:
        self.input_spec = input_spec
        self.vectors = dict(vectors or {})
        self.dims = EMBEDDER_DIMS
        self.seen: list[tuple[int, int, int]] = []  # the centre colour of every crop embedded, padding included

    def colour_of(self, pixels: np.ndarray) -> tuple[int, int, int]:
        """The scripted colour nearest the crop's centre pixel (or that pixel, rounded)."""
        centre = pixels[pixels.shape[0] // 2, pixels.shape[1] // 2]
        for colour in self.vectors:
            if np.abs(centre - np.asarray(colour, np.float32)).max() <= 12:
                return colour
        return tuple(int(round(float(v))) for v in centre)

    def __call__(self, feeds: Mapping[str, np.ndarray]) -> Outputs:
        (tensor,) = feeds.values()
        rows = []
        for pixels in input_pixels(tensor, self.input_spec):
            colour = self.colour_of(pixels)
            self.seen.append(colour)
            vector = self.vectors.get(colour)
            rows.append(vector if vector is not None else colour_vector(colour, self.dims))
        return {"embedding": np.stack(rows).astype(np.float32)}


def standing_person(width: int = 480, height: int = 640) -> ScriptedPose:
    """A person facing the camera, head to feet inside a ``width`` x ``height`` photo, every landmark seen.

    Seen from the front, the person's left side is on the photo's right.
    """
    sx, sy = width / 480, height / 640
    points = {
        0: (240, 100),
        1: (245, 92),
        2: (250, 92),
        3: (255, 92),
        4: (235, 92),
        5: (230, 92),
        6: (225, 92),
        7: (262, 98),
        8: (218, 98),
        9: (246, 112),
        10: (234, 112),
        11: (280, 170),
        12: (200, 170),
        13: (300, 250),
        14: (180, 250),
        15: (305, 320),
        16: (175, 320),
        17: (307, 335),
        18: (173, 335),
        19: (305, 338),
        20: (175, 338),
        21: (300, 330),
        22: (180, 330),
        23: (265, 330),
        24: (215, 330),
        25: (268, 450),
        26: (212, 450),
        27: (270, 560),
        28: (210, 560),
        29: (268, 575),
        30: (212, 575),
        31: (282, 585),
        32: (198, 585),
    }
    xy = np.array([points[i] for i in range(33)], np.float64) * [sx, sy]
    return ScriptedPose(xy=xy, visibility_logit=np.full(33, 5.0), presence_logit=np.full(33, 5.0))
