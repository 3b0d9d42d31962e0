"""Photo resizes that give the same pixels on every CPU.

opencv-python resizes through Intel IPP on x86-64 and through KleidiCV/carotene on aarch64, and the two
round differently: the same ``INTER_LINEAR`` or ``INTER_AREA`` shrink of the same photo differs by one level
in up to a fifth of the pixels, which is enough to move a keypoint, flip an article near its threshold or
reorder a top five (``benchmarks/aarch64``). ``INTER_LINEAR_EXACT`` and ``INTER_AREA`` by whole-number
factors are bit-identical on both, so a shrink here is a bilinear resample up to a whole multiple of the
target followed by an area average by that multiple: an anti-aliased filter that every CPU computes alike.
"""

from __future__ import annotations

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
