"""Garment parsing on the person crop: a class id for every pixel of the photo.

The model reads the same person crop as the article detector (``detector_crop``, the margin from
the manifest's ``decoder.person_crop_margin``) and returns per-class logits at ``output_stride`` of
its input. Postprocessing takes the arg-max (after bilinear upsampling of the logits to the input
size, or at the model's own resolution with ``upsample="nearest"``) and maps it back to the photo
with one nearest-neighbour affine warp; pixels outside the crop are background (class 0).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from edge_bml.backends import Backend
from edge_bml.errors import InputSpecError, ManifestError
from edge_bml.stages.detector_crop import CropBox
from edge_bml.stages.inputs import person_crop_input
from edge_bml.stages.model_stage import ModelStage

UPSAMPLING = ("bilinear", "nearest")


@dataclass(frozen=True)
class ParseResult:
    """A parsed photo: ``labels`` (H, W) uint8 class ids in photo pixels, the class names, and per-class scores.

    ``scores[c]`` is the mean max-softmax probability over the model-resolution cells labelled ``c``
    (0 where none is): how sure the parser is of that class's pixels.
    """

    labels: np.ndarray
    classes: tuple[str, ...]
    scores: np.ndarray

    def class_id(self, category: str) -> int:
        """The id of ``category`` in ``classes``.

        Raises:
            ValueError: the parser has no such class.
        """
        try:
            return self.classes.index(category)
        except ValueError:
            raise ValueError(f"unknown parser class {category!r}; the classes are {self.classes}") from None

    def mask(self, category: str, box: np.ndarray | None = None) -> np.ndarray:
        """Boolean mask of ``category``'s pixels: the whole photo, or the region of ``box`` (xyxy photo pixels).

        With a box the mask covers ``labels[y0:y1, x0:x1]`` (box-crop coordinates: x0, y0 rounded down,
        x1, y1 up, clipped to the photo), so it lines up with a crop cut from the same box.

        Raises:
            ValueError: an unknown category, or a box that is not 4 finite numbers.
        """
        class_id = self.class_id(category)
        if box is None:
            return self.labels == class_id
        values = np.asarray(box, np.float64).reshape(-1)
        if values.size != 4 or not np.all(np.isfinite(values)):
            raise ValueError(f"box must be 4 finite numbers xyxy, got {box!r}")
        height, width = self.labels.shape
        x0, y0 = (int(np.clip(np.floor(v), 0, limit)) for v, limit in zip(values[:2], (width, height), strict=True))
        x1, y1 = (int(np.clip(np.ceil(v), 0, limit)) for v, limit in zip(values[2:], (width, height), strict=True))
        return self.labels[y0 : max(y0, y1), x0 : max(x0, x1)] == class_id

    def fraction(self, category: str) -> float:
        """The share of the photo's pixels labelled ``category``.

        Raises:
            ValueError: an unknown category.
        """
        return float(np.count_nonzero(self.labels == self.class_id(category))) / max(self.labels.size, 1)


class GarmentParser(ModelStage):
    """Labels every pixel of a photo's person crop with a class (skin, hair, top, ..., background)."""

    task = "parser"

    def __init__(
        self,
        manifest,
        *,
        threads: int | None = None,
        upsample: str = "bilinear",
        loaded_backend: Backend | None = None,
    ) -> None:
        super().__init__(manifest, threads=threads, loaded_backend=loaded_backend)
        self.classes = tuple(manifest.labels)
        if not self.classes:
            raise ManifestError(f"{manifest.name}: a parser manifest needs its class labels")
        if "logits" not in manifest.outputs:
            raise ManifestError(f"{manifest.name}: outputs must name the 'logits' tensor")
        if upsample not in UPSAMPLING:
            raise ValueError(f"upsample must be one of {UPSAMPLING}, got {upsample!r}")
        self.upsample = upsample
        spec = {s.name: s for s in self.model.backend.outputs}[manifest.outputs["logits"]]
        self._dequant = (spec.scale, spec.zero_point) if spec.scale is not None else None

    def preprocess(self, image: np.ndarray, person_box=None) -> tuple[np.ndarray, CropBox]:
        """The model input for the person crop (the whole photo when ``person_box`` is None) and the crop.

        Raises:
            ImageError: the image is not HxWx3; ValueError: the person box is empty or not finite.
        """
        return person_crop_input(self.manifest, image, person_box)

    def _logits(self, outputs: dict[str, np.ndarray]) -> np.ndarray:
        """(C, h, w) float32 logits from the model output (NCHW, or NHWC as a TFLite export has it)."""
        raw = np.asarray(outputs["logits"])
        if self._dequant is not None:
            scale, zero_point = self._dequant
            raw = (raw.astype(np.float32) - float(zero_point or 0)) * float(scale)
        raw = raw.astype(np.float32, copy=False)
        count = len(self.classes)
        if raw.ndim == 4 and raw.shape[0] == 1:
            raw = raw[0]
        if raw.ndim == 3 and raw.shape[0] != count and raw.shape[-1] == count:
            raw = raw.transpose(2, 0, 1)
        if raw.ndim != 3 or raw.shape[0] != count:
            raise InputSpecError(
                f"parser output of shape {np.shape(outputs['logits'])} does not have {count} class channels; "
                "check the manifest's labels against the model"
            )
        return raw

    def postprocess(self, outputs: dict[str, np.ndarray], crop: CropBox, image_size: tuple[int, int]) -> ParseResult:
        """Arg-max class per pixel, mapped from the crop back to the photo (background outside the crop).

        Raises:
            InputSpecError: the model's output does not have one channel per class.
        """
        logits = self._logits(outputs)
        spec = self.manifest.input
        best = logits.argmax(0).astype(np.uint8)
        top = logits.max(0)
        confidence = 1.0 / np.exp(logits - top[None]).sum(0)
        scores = np.zeros(len(self.classes), np.float32)
        counts = np.bincount(best.ravel(), minlength=len(self.classes))[: len(self.classes)]
        sums = np.bincount(best.ravel(), weights=confidence.ravel(), minlength=len(self.classes))[: len(self.classes)]
        present = counts > 0
        scores[present] = sums[present] / counts[present]
        if self.upsample == "bilinear":
            planes = cv2.resize(logits.transpose(1, 2, 0), (spec.width, spec.height), interpolation=cv2.INTER_LINEAR)
            best = planes.argmax(2).astype(np.uint8)
        # Photo pixel x (centre x + 0.5) -> map cell u (centre u + 0.5): u = (x + 0.5 - x0) * w / crop.width - 0.5.
        sx, sy = best.shape[1] / crop.width, best.shape[0] / crop.height
        matrix = np.array([[sx, 0.0, (0.5 - crop.x0) * sx - 0.5], [0.0, sy, (0.5 - crop.y0) * sy - 0.5]], np.float64)
        width, height = image_size
        labels = cv2.warpAffine(
            best,
            matrix,
            (width, height),
            flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=0,
        )
        return ParseResult(labels, self.classes, scores)

    def __call__(self, image: np.ndarray, person_box: np.ndarray | None = None) -> ParseResult:
        """Parse an RGB uint8 photo in the crop around ``person_box`` (xyxy photo pixels; None: the whole photo).

        Raises:
            ImageError: the image is not HxWx3; ValueError: the person box is empty or not finite;
            InputSpecError: the model's output does not fit the manifest's labels.
        """
        tensor, crop = self.preprocess(image, person_box)
        return self.postprocess(self.infer(tensor), crop, (image.shape[1], image.shape[0]))
