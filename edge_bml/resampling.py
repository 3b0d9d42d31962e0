"""Photo resizes that give the same pixels on every CPU.

opencv-python resizes through Intel IPP on x86-64 and through KleidiCV/carotene on aarch64, and the two
round differently: the same ``INTER_LINEAR`` or ``INTER_AREA`` shrink of the same photo differs by one level
in up to a fifth of the pixels, which is enough to move a keypoint, flip an article near its threshold or
reorder a top five (``benchmarks/aarch64``). ``INTER_LINEAR_EXACT`` and ``INTER_AREA`` by whole-number
factors are bit-identical on both, so a shrink here is a bilinear resample up to a whole multiple of the
target followed by an area average by that multiple: an anti-aliased filter that every CPU computes alike.
"""

from __future__ import annotations

import math

import cv2
import numpy as np


def resize_exact(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """``image`` (HxW or HxWxC, uint8) resampled to ``width`` x ``height``, area-averaged when it shrinks.

    Raises:
        ValueError: ``image`` is not a non-empty uint8 array, or the size is not positive.
    """
    if image.dtype != np.uint8 or image.ndim not in (2, 3) or image.size == 0:
        raise ValueError(f"resize_exact needs a non-empty uint8 image, got {image.dtype} {image.shape}")
    if width < 1 or height < 1:
        raise ValueError(f"resize_exact needs a positive size, got {width}x{height}")
    h, w = image.shape[:2]
    if (w, h) == (width, height):
        return image.copy()
    # Whole-number shrink factors per axis (ceil): 1 where that axis keeps its size or grows.
    fx, fy = -(-w // width), -(-h // height)
    if fx == 1 and fy == 1:
        return cv2.resize(image, (width, height), interpolation=cv2.INTER_LINEAR_EXACT)
    if (w, h) != (width * fx, height * fy):
        image = cv2.resize(image, (width * fx, height * fy), interpolation=cv2.INTER_LINEAR_EXACT)
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)


# Fixed-point bits of the sample positions in ``resample_box_exact`` and ``warp_affine_exact``: positions are
# computed in float64 by single numpy operations (IEEE-rounded alike on every CPU, no fused multiply-add), then
# rounded to 1/1024 pixel; the bilinear blend is integer arithmetic from there on.
_BITS = 10
_ONE = 1 << _BITS


def _fixed(positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Float source positions as (integer pixel, weight of the next pixel in 1/_ONE)."""
    q = np.floor(positions * _ONE + 0.5).astype(np.int64)
    return q >> _BITS, (q & (_ONE - 1)).astype(np.int32)


def _blend(a: np.ndarray, b: np.ndarray, weight_b: np.ndarray) -> np.ndarray:
    return a * (_ONE - weight_b) + b * weight_b


def _round_shift(values: np.ndarray, bits: int) -> np.ndarray:
    return (values + (1 << (bits - 1))) >> bits


def _mean_blocks(values: np.ndarray, factor: int, *, axis: int) -> np.ndarray:
    """The rounded integer mean of each run of ``factor`` entries along ``axis`` (0 or 1)."""
    if factor == 1:
        return values
    shape = values.shape[:axis] + (values.shape[axis] // factor, factor) + values.shape[axis + 1 :]
    return (values.reshape(shape).sum(axis=axis + 1) + factor // 2) // factor


def resample_box_exact(
    image: np.ndarray, box: tuple[float, float, float, float], width: int, height: int, *, pad_value: int
) -> np.ndarray:
    """The region ``box`` (x0, y0, x1, y1: any floats, may reach past the image) of an HxWxC uint8 image,
    resampled to ``width`` x ``height`` in pure integer numpy: the same pixels on every CPU and with every
    OpenCV. Pixels outside the image read ``pad_value``.

    The rule is ``resize_exact``'s on a cut region: output pixel centres map to box pixel centres (a whole
    box with integer corners is ``resize_exact`` of the slice, within one level of rounding), bilinear up to
    a whole multiple of the output, then an average over that multiple where the box is shrunk.

    Raises:
        ValueError: ``image`` is not a non-empty HxWxC uint8 array, or the box or size is empty.
    """
    if image.dtype != np.uint8 or image.ndim != 3 or image.size == 0:
        raise ValueError(f"resample_box_exact needs a non-empty HxWxC uint8 image, got {image.dtype} {image.shape}")
    x0, y0, x1, y1 = (float(v) for v in box)
    if width < 1 or height < 1 or not x1 > x0 or not y1 > y0 or not np.isfinite([x0, y0, x1, y1]).all():
        raise ValueError(f"resample_box_exact needs a non-empty box and size, got {box} to {width}x{height}")
    fx, fy = max(1, math.ceil((x1 - x0) / width)), max(1, math.ceil((y1 - y0) / height))
    ix, wx = _fixed(x0 + (np.arange(width * fx) + 0.5) * ((x1 - x0) / (width * fx)) - 0.5)
    iy, wy = _fixed(y0 + (np.arange(height * fy) + 0.5) * ((y1 - y0) / (height * fy)) - 0.5)
    h, w = image.shape[:2]
    lo = int(min(max(ix[0], 0), w - 1))
    hi = int(max(min(ix[-1] + 2, w), lo + 1))
    columns = image[:, lo:hi]

    def rows(index: np.ndarray) -> np.ndarray:
        out = np.take(columns, np.clip(index, 0, h - 1), axis=0).astype(np.int32)
        out[(index < 0) | (index >= h)] = pad_value
        return out

    # Each pass averages its whole factor as it goes (rounding to 1/_ONE level), so the wide intermediate
    # of the other axis is never made.
    vertical = _mean_blocks(_blend(rows(iy), rows(iy + 1), wy[:, None, None]), fy, axis=0)  # 1/_ONE levels
    channels = image.shape[2]

    def cols(index: np.ndarray) -> np.ndarray:
        out = np.take(vertical, np.clip(index - lo, 0, hi - lo - 1), axis=1)
        out[:, (index < 0) | (index >= w)] = pad_value * _ONE
        return out

    wx = np.repeat(wx[:, None], channels, axis=1)[None]  # equal trailing shapes: fast numpy loops
    out = _mean_blocks(_blend(cols(ix), cols(ix + 1), wx), fx, axis=1)  # 1/_ONE^2 levels
    return _round_shift(out, 2 * _BITS).astype(np.uint8)


def warp_affine_exact(image: np.ndarray, matrix: np.ndarray, width: int, height: int, *, border_value: int = 0):
    """``cv2.warpAffine(image, matrix, (width, height), INTER_LINEAR | WARP_INVERSE_MAP, BORDER_CONSTANT)`` in
    pure integer numpy: output pixel (x, y) reads the image at ``matrix @ (x, y, 1)`` (pixel centres at
    integers), bilinear, ``border_value`` outside. OpenCV's own warp blends in float32 since 4.11/5.0, which
    rounds differently on x86 and ARM; this gives the same pixels on every CPU.

    Raises:
        ValueError: ``image`` is not a non-empty HxWxC uint8 array, or the size is not positive.
    """
    if image.dtype != np.uint8 or image.ndim != 3 or image.size == 0:
        raise ValueError(f"warp_affine_exact needs a non-empty HxWxC uint8 image, got {image.dtype} {image.shape}")
    if width < 1 or height < 1:
        raise ValueError(f"warp_affine_exact needs a positive size, got {width}x{height}")
    m = np.asarray(matrix, np.float64)
    xs, ys = np.arange(width, dtype=np.float64)[None, :], np.arange(height, dtype=np.float64)[:, None]
    sx, ax = _fixed(m[0, 0] * xs + m[0, 1] * ys + m[0, 2])
    sy, ay = _fixed(m[1, 0] * xs + m[1, 1] * ys + m[1, 2])
    # The part of the image the taps reach, with a one-pixel ring of border_value: every tap outside the
    # image is clipped onto the ring, so the four taps are four flat gathers without masks.
    h, w, channels = image.shape
    x0, x1 = int(np.clip(sx.min(), 0, w)), int(np.clip(sx.max() + 2, 0, w))
    y0, y1 = int(np.clip(sy.min(), 0, h)), int(np.clip(sy.max() + 2, 0, h))
    ring = np.full((y1 - y0 + 2, x1 - x0 + 2, channels), border_value, np.uint8)
    ring[1:-1, 1:-1] = image[y0:y1, x0:x1]
    flat = ring.reshape(-1, channels)
    rw, rh = ring.shape[1], ring.shape[0]
    cx = np.clip(sx - (x0 - 1), 0, rw - 1), np.clip(sx - (x0 - 2), 0, rw - 1)
    cy = np.clip(sy - (y0 - 1), 0, rh - 1) * rw, np.clip(sy - (y0 - 2), 0, rh - 1) * rw

    def tap(dx: int, dy: int) -> np.ndarray:
        return np.take(flat, (cy[dy] + cx[dx]).ravel(), axis=0).astype(np.int32)

    # Weights repeated per channel: numpy's loops are fast on equal shapes, slow when broadcasting over 3.
    ax, ay = (np.repeat(a.reshape(-1, 1), channels, axis=1) for a in (ax, ay))
    top, bottom = _blend(tap(0, 0), tap(1, 0), ax), _blend(tap(0, 1), tap(1, 1), ax)
    out = _round_shift(_blend(top, bottom, ay), 2 * _BITS)
    return out.astype(np.uint8).reshape(height, width, channels)
