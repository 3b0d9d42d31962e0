"""The person crop the article detector reads: one rule shared by training and the runtime.

The person box is widened by a margin, then grown along its short side to the model's input
aspect ratio, so the person fills the input without distortion; pixels outside the photo are
filled with a constant. ``CropBox.to_photo`` maps model-input pixels back to photo pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge_bml.errors import ImageError
from edge_bml.resampling import resample_box_exact, resize_exact

PAD_VALUE = 114


@dataclass(frozen=True)
class CropBox:
    """An axis-aligned region of the photo (may extend past its edges) at the input aspect ratio."""

    x0: float
    y0: float
    x1: float
    y1: float

    @property
    def width(self) -> float:
        return self.x1 - self.x0

    @property
    def height(self) -> float:
        return self.y1 - self.y0

    def to_photo(self, xyxy: np.ndarray, input_width: int, input_height: int) -> np.ndarray:
        """Map (N, 4) xyxy boxes in input pixels to photo pixels."""
        scale = np.array([self.width / input_width, self.height / input_height] * 2, np.float32)
        offset = np.array([self.x0, self.y0, self.x0, self.y0], np.float32)
        return np.asarray(xyxy, np.float32) * scale + offset

    def to_input(self, xyxy: np.ndarray, input_width: int, input_height: int) -> np.ndarray:
        """Map (N, 4) xyxy boxes in photo pixels to input pixels."""
        scale = np.array([input_width / self.width, input_height / self.height] * 2, np.float32)
        offset = np.array([self.x0, self.y0, self.x0, self.y0], np.float32)
        return (np.asarray(xyxy, np.float32) - offset) * scale

    def snapped(self, step: float, *, aspect: float) -> CropBox:
        """The box with its top-left corner and height on a ``step``-pixel grid, its width ``aspect`` x height.

        The person box comes from float landmarks that differ in their last digits between CPUs; on a grid,
        the crop (and so every pixel the detector reads) is the same unless a corner sits within that
        difference of a grid line.
        """
        height = max(step, round(self.height / step) * step)
        x0, y0 = round(self.x0 / step) * step, round(self.y0 / step) * step
        return CropBox(float(x0), float(y0), float(x0 + height * aspect), float(y0 + height))


CROP_GRID_PX = 4  # person crops snap to this grid (see CropBox.snapped)
DEFAULT_PERSON_CROP_MARGIN = 0.08  # of the person box's height, on every side; manifests may set their own


def person_crop_box(person_box, *, aspect: float, margin: float = DEFAULT_PERSON_CROP_MARGIN) -> CropBox:
    """The crop around ``person_box`` (xyxy): ``margin`` of its height added on every side, then
    grown to ``aspect`` (width / height).

    Raises:
        ValueError: the box is empty or not finite, or ``aspect``/``margin`` are out of range.
    """
    x0, y0, x1, y1 = (float(v) for v in person_box)
    if not all(np.isfinite([x0, y0, x1, y1])) or x1 <= x0 or y1 <= y0:
        raise ValueError(f"person box must be a finite xyxy box with x1 > x0 and y1 > y0, got {person_box}")
    if aspect <= 0 or margin < 0:
        raise ValueError(f"aspect must be > 0 and margin >= 0, got {aspect} and {margin}")
    pad = margin * (y1 - y0)
    width, height = x1 - x0 + 2 * pad, y1 - y0 + 2 * pad
    if width / height < aspect:
        width = height * aspect
    else:
        height = width / aspect
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    return CropBox(cx - width / 2, cy - height / 2, cx + width / 2, cy + height / 2)


def whole_photo_crop_box(width: int, height: int, *, aspect: float) -> CropBox:
    """The whole photo, grown to ``aspect``: what the detector reads when no person was found."""
    return person_crop_box((0, 0, width, height), aspect=aspect, margin=0.0)


def cut_crop(image: np.ndarray, crop: CropBox, input_width: int, input_height: int) -> np.ndarray:
    """Resample ``crop`` of an HxWx3 image to ``input_width`` x ``input_height``; outside the photo reads
    ``PAD_VALUE``. The same pixels on every CPU and with every OpenCV build: a crop with integer corners (the
    runtime's, on ``CROP_GRID_PX``) is padded and sliced in numpy, then ``resize_exact``; any other crop (the
    whole-photo fallback, training's jittered crops) goes through ``resample_box_exact``, the same rule in
    integer numpy (pixel centres onto pixel centres, area-averaged by a whole factor when shrinking).

    Raises:
        ImageError: the image is not an HxWx3 array.
    """
    if image.ndim != 3 or image.shape[2] != 3 or image.size == 0:
        raise ImageError(f"expected an HxWx3 image, got an array of shape {image.shape}")
    corners = (crop.x0, crop.y0, crop.x1, crop.y1)
    if not all(float(v).is_integer() for v in corners):
        return resample_box_exact(image, corners, input_width, input_height, pad_value=PAD_VALUE)
    x0, y0, x1, y1 = (int(v) for v in corners)
    h, w = image.shape[:2]
    if x0 >= 0 and y0 >= 0 and x1 <= w and y1 <= h:
        region = image[y0:y1, x0:x1]
    else:
        region = np.full((y1 - y0, x1 - x0, 3), PAD_VALUE, np.uint8)
        cx0, cy0, cx1, cy1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
        if cx1 > cx0 and cy1 > cy0:
            region[cy0 - y0 : cy1 - y0, cx0 - x0 : cx1 - x0] = image[cy0:cy1, cx0:cx1]
    return resize_exact(region, input_width, input_height)
