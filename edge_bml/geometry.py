"""Image-to-tensor geometry shared by stages: letterbox resizing and rotated square crops."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge_bml.resampling import resize_exact, warp_affine_exact


@dataclass(frozen=True)
class Letterbox:
    """How an image was scaled and padded into a model input; maps points back to the image.

    Points are continuous pixel coordinates (pixel i spans [i, i + 1)).
    """

    scale_x: float
    scale_y: float
    pad_x: float
    pad_y: float

    def to_image(self, xy: np.ndarray) -> np.ndarray:
        """Map (..., 2) points in input pixels back to image pixels."""
        offset = np.array([self.pad_x, self.pad_y], np.float32)
        return (xy - offset) / np.array([self.scale_x, self.scale_y], np.float32)


def letterbox(image: np.ndarray, width: int, height: int, *, pad_value: int = 0) -> tuple[np.ndarray, Letterbox]:
    """Resize keeping aspect ratio, centred, padded to ``width`` x ``height`` (uint8, the same pixels on
    every CPU: ``resampling.resize_exact``).

    Raises:
        ValueError: ``image`` is not a non-empty uint8 array.
    """
    h, w = image.shape[:2]
    scale = min(width / w, height / h)
    new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    resized = resize_exact(image, new_w, new_h)
    pad_x, pad_y = (width - new_w) / 2, (height - new_h) / 2
    left, top = int(pad_x), int(pad_y)
    out = np.full((height, width, image.shape[2]), pad_value, dtype=image.dtype)
    out[top : top + new_h, left : left + new_w] = resized
    return out, Letterbox(scale_x=new_w / w, scale_y=new_h / h, pad_x=float(left), pad_y=float(top))


@dataclass(frozen=True)
class RotatedRect:
    """A square region of interest in image pixels, rotated by ``rotation`` radians (clockwise on screen)."""

    center_x: float
    center_y: float
    size: float
    rotation: float

    def crop_to_image_matrix(self, out_size: int) -> np.ndarray:
        """2x3 affine matrix taking continuous crop coordinates (0..out_size) to image coordinates."""
        c, s = np.cos(self.rotation), np.sin(self.rotation)
        k = self.size / out_size
        linear = np.array([[c, -s], [s, c]], np.float64) * k
        offset = np.array([self.center_x, self.center_y]) - linear @ np.array([out_size / 2, out_size / 2])
        return np.hstack([linear, offset[:, None]])

    def crop(self, image: np.ndarray, out_size: int) -> np.ndarray:
        """The rotated square cut out of ``image`` and resampled to ``out_size`` x ``out_size``."""
        matrix = self.crop_to_image_matrix(out_size)
        # Image pixel centres sit at integers in warp_affine_exact; continuous coordinates put them at i + 0.5.
        matrix[:, 2] += matrix[:, :2] @ np.array([0.5, 0.5]) - 0.5
        return warp_affine_exact(image, matrix, out_size, out_size, border_value=0)

    def to_image(self, xy: np.ndarray, out_size: int) -> np.ndarray:
        """Map (N, 2) crop pixels back to image pixels."""
        matrix = self.crop_to_image_matrix(out_size)
        return (xy @ matrix[:, :2].T + matrix[:, 2]).astype(np.float32)


def _boxes(boxes: np.ndarray) -> np.ndarray:
    return np.asarray(boxes, np.float64).reshape(-1, 4)


def _areas(boxes: np.ndarray) -> np.ndarray:
    """Areas as pycocotools computes them: width x height, no +1."""
    return np.clip(boxes[:, 2:] - boxes[:, :2], 0, None).prod(1)


def _intersections(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    return np.clip(rb - lt, 0, None).prod(2)


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU (M, N) of xyxy boxes a (M, 4) and b (N, 4): the one IoU of edge_bml (areas as pycocotools
    computes them, width x height, no +1)."""
    a, b = _boxes(a), _boxes(b)
    inter = _intersections(a, b)
    return inter / np.maximum(_areas(a)[:, None] + _areas(b)[None] - inter, 1e-12)


def share_inside(boxes: np.ndarray, outer: np.ndarray) -> np.ndarray:
    """The share of each xyxy box's area (N, 4) that lies inside the ``outer`` box."""
    boxes = _boxes(boxes)
    return _intersections(boxes, _boxes(outer))[:, 0] / np.maximum(_areas(boxes), 1e-12)


def box_iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """IoU of one xyxy box against (N, 4) xyxy boxes."""
    return iou_matrix(np.asarray(box)[None], boxes)[0]
