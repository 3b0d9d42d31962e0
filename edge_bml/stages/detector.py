"""Fashion-article detection on the person crop: YOLOv8-layout decoding, per-class thresholds and NMS.

The model reads the person crop (``detector_crop``) and returns ``[1, 4 + C, N]``: box centre x, y,
width, height in input pixels, then C class scores. Every (point, class) pair over that class's
threshold is a candidate; per-class NMS keeps the best; boxes of mutually exclusive categories on
one place are resolved (``exclusive_articles``); boxes are mapped back to photo pixels. The per-class
``class_score_thresholds`` decide what the look shows; ``candidate_score_threshold`` is the floor
that ``all_detections`` (``--all-detections``) and the resolution see.
Users' own Ultralytics exports read the same way (``edge-bml-convert import yolo``).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from edge_bml.backends import Backend
from edge_bml.errors import InputSpecError, ManifestError
from edge_bml.stages.detector_crop import CropBox
from edge_bml.stages.exclusive_articles import ExclusiveRule, resolve_exclusive, rule_tables
from edge_bml.stages.inputs import person_crop_input
from edge_bml.stages.model_stage import ModelStage

MAX_CANDIDATES = 3000
DEFAULT_CANDIDATE_THRESHOLD = 0.05


@dataclass(frozen=True)
class Detections:
    """Detected articles: ``xyxy`` (K, 4) float32, ``confidence`` (K,), ``class_id`` (K,) and the label names.

    Index with a mask, indices or a slice to get a subset: ``dets[dets.confidence > 0.5]``.
    """

    xyxy: np.ndarray
    confidence: np.ndarray
    class_id: np.ndarray
    labels: tuple[str, ...] = ()

    def __len__(self) -> int:
        return int(self.confidence.shape[0])

    def __getitem__(self, index) -> Detections:
        return Detections(self.xyxy[index], self.confidence[index], self.class_id[index], self.labels)

    @property
    def names(self) -> list[str]:
        """The label of each detection."""
        return [self.labels[i] if 0 <= i < len(self.labels) else str(i) for i in self.class_id.tolist()]

    @classmethod
    def empty(cls, labels: tuple[str, ...] = ()) -> Detections:
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64), labels)


def batched_nms(boxes: np.ndarray, scores: np.ndarray, class_ids: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Indices kept by per-class non-maximum suppression (boxes of different classes never suppress each
    other), best score first: OpenCV's ``NMSBoxesBatched`` (the same greedy rule and IoU as before)."""
    if boxes.shape[0] == 0:
        return np.zeros(0, np.int64)
    xywh = np.hstack([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]]).astype(np.float64)
    kept = cv2.dnn.NMSBoxesBatched(
        xywh.tolist(), scores.astype(float).tolist(), class_ids.tolist(), -1.0, iou_threshold
    )
    kept = np.asarray(kept, np.int64).reshape(-1)
    return kept[np.argsort(-scores[kept], kind="stable")]


def decode_yolo(
    output: np.ndarray,
    *,
    class_thresholds: np.ndarray,
    iou_threshold: float = 0.5,
    max_detections: int = 100,
    logits: bool = False,
    labels: tuple[str, ...] = (),
) -> Detections:
    """Detections (input pixels) from one YOLOv8-layout output ``[1, 4 + C, N]`` (or ``[1, N, 4 + C]``).

    Raises:
        InputSpecError: the output's shape does not fit ``4 + len(class_thresholds)`` channels.
    """
    num_classes = len(class_thresholds)
    raw = np.asarray(output, np.float32)
    if raw.ndim == 3 and raw.shape[0] == 1:
        raw = raw[0]
    if raw.ndim != 2 or 4 + num_classes not in raw.shape:
        raise InputSpecError(
            f"detector output of shape {np.shape(output)} is not YOLO layout [1, 4 + {num_classes}, N]; "
            "check the manifest's labels against the model"
        )
    if raw.shape[0] != 4 + num_classes:
        raw = raw.T
    scores = raw[4:].T
    if logits:
        scores = 1.0 / (1.0 + np.exp(-np.clip(scores, -60, 60)))
    point, cls = np.nonzero(scores >= np.asarray(class_thresholds, np.float32)[None])
    confidence = scores[point, cls]
    if confidence.size > MAX_CANDIDATES:
        top = np.argpartition(-confidence, MAX_CANDIDATES)[:MAX_CANDIDATES]
        point, cls, confidence = point[top], cls[top], confidence[top]
    cx, cy, w, h = raw[:4, point]
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], 1).astype(np.float32)
    keep = batched_nms(boxes, confidence, cls, iou_threshold)[:max_detections]
    return Detections(boxes[keep], confidence[keep].astype(np.float32), cls[keep].astype(np.int64), tuple(labels))


class ArticleDetector(ModelStage):
    """Finds fashion articles in the person crop of a photo; boxes come back in photo pixels."""

    task = "detector"

    def __init__(self, manifest, *, threads: int | None = None, loaded_backend: Backend | None = None) -> None:
        super().__init__(manifest, threads=threads, loaded_backend=loaded_backend)
        decoder = manifest.decoder
        self.labels = tuple(manifest.labels)
        if not self.labels:
            raise ManifestError(f"{manifest.name}: a detector manifest needs its class labels")
        if "predictions" not in manifest.outputs:
            raise ManifestError(f"{manifest.name}: outputs must name the 'predictions' tensor")
        default = float(decoder.get("score_threshold", 0.25))
        per_class = decoder.get("class_score_thresholds", {})
        self.class_thresholds = np.array([float(per_class.get(label, default)) for label in self.labels], np.float32)
        floor = float(decoder.get("candidate_score_threshold", DEFAULT_CANDIDATE_THRESHOLD))
        self.candidate_thresholds = np.minimum(self.class_thresholds, floor)
        self.exclusive = ExclusiveRule.from_decoder(decoder)
        self.exclusive_enabled = self.exclusive is not None
        self.iou_threshold = float(decoder.get("iou_threshold", 0.5))
        self.max_detections = int(decoder.get("max_detections", 100))
        self.logits = decoder.get("score_activation", "none") == "sigmoid"
        spec = {s.name: s for s in self.model.backend.outputs}[manifest.outputs["predictions"]]
        self._dequant = (spec.scale, spec.zero_point) if spec.scale is not None else None

    def preprocess(self, image: np.ndarray, person_box=None) -> tuple[np.ndarray, CropBox]:
        """The model input for the person crop (the whole photo when ``person_box`` is None)."""
        return person_crop_input(self.manifest, image, person_box)

    def postprocess(
        self, outputs: dict[str, np.ndarray], crop: CropBox, image_size: tuple[int, int], *, thresholds: np.ndarray
    ) -> Detections:
        """Decode, then map boxes from input pixels to photo pixels, clipped to the photo."""
        raw = outputs["predictions"]
        if self._dequant is not None:
            scale, zero_point = self._dequant
            raw = (raw.astype(np.float32) - float(zero_point or 0)) * float(scale)
        found = decode_yolo(
            raw,
            class_thresholds=thresholds,
            iou_threshold=self.iou_threshold,
            max_detections=self.max_detections,
            logits=self.logits,
            labels=self.labels,
        )
        spec = self.manifest.input
        xyxy = crop.to_photo(found.xyxy, spec.width, spec.height)
        width, height = image_size
        xyxy = np.clip(xyxy, 0, np.array([width, height, width, height], np.float32))
        confidence = found.confidence
        if self.exclusive_enabled and len(confidence) > 1:
            table, worn_over = rule_tables(self.exclusive, self.labels)
            confidence = resolve_exclusive(
                xyxy,
                confidence,
                found.class_id,
                table=table,
                rule=self.exclusive,
                shown_thresholds=self.class_thresholds,
                worn_over=worn_over,
            )
        return Detections(xyxy, confidence, found.class_id, self.labels)

    def shown(self, found: Detections) -> np.ndarray:
        """Mask of the detections the look shows: at or over their category's shown threshold."""
        return found.confidence >= self.class_thresholds[found.class_id]

    def __call__(
        self,
        image: np.ndarray,
        person_box=None,
        *,
        score_threshold: float | None = None,
        all_detections: bool = False,
    ) -> Detections:
        """Articles in an RGB uint8 photo, looked for in the crop around ``person_box`` (xyxy, photo pixels).

        By default only what the look shows (``shown``); ``all_detections`` also returns candidates down to
        the manifest's candidate floor, and ``score_threshold`` sets that floor (evaluation uses a low one).

        Raises:
            ImageError: the image is not HxWx3; ValueError: the person box is empty.
        """
        tensor, crop = self.preprocess(image, person_box)
        if score_threshold is not None:
            floor = np.full_like(self.class_thresholds, score_threshold)
        else:
            floor = self.candidate_thresholds if all_detections or self.exclusive_enabled else self.class_thresholds
        found = self.postprocess(self.infer(tensor), crop, (image.shape[1], image.shape[0]), thresholds=floor)
        if score_threshold is None and not all_detections:
            found = found[self.shown(found)]
        return found
