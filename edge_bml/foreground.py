"""Which pixels of a photo are the garment: product photos (flat-lay, hanger, studio) and article crops.

Catalog photos show one garment on a bed, a floor or a wall. GrabCut, seeded with the photo's border
as background and its centre as garment, separates the two on a small copy of the photo (about
35 ms per photo here). Where it keeps almost nothing (a garment that fills the frame, or a busy
background), the central ellipse stands in. An article crop from a street photo has no clean border:
without a garment mask, its central half is the best guess of the garment's pixels.
"""

from __future__ import annotations

import cv2
import numpy as np

from edge_bml.resampling import resize_exact

# Neutral fill for everything that is not the garment: the grey the embedder pads with.
NEUTRAL_FILL = 124
WORK_SIZE = 96
MIN_FOREGROUND = 0.08
MAX_FOREGROUND = 0.97
# GrabCut's k-means draws from OpenCV's per-thread RNG: seeded before every call, a photo's mask does not
# depend on which photos this thread cut before it (a resumed, a Ray and a clean build agree).
GRABCUT_SEED = 0x5EED


def central_ellipse(height: int, width: int, *, fraction: float = 0.7) -> np.ndarray:
    """An ellipse covering the middle ``fraction`` of each side."""
    yy, xx = np.mgrid[:height, :width]
    ry, rx = max(height * fraction / 2, 1), max(width * fraction / 2, 1)
    return ((yy - (height - 1) / 2) / ry) ** 2 + ((xx - (width - 1) / 2) / rx) ** 2 <= 1.0


def central_half(height: int, width: int) -> np.ndarray:
    """The middle half of each side (a quarter of the area): an article box's likeliest garment pixels."""
    mask = np.zeros((height, width), bool)
    mask[height // 4 : height - height // 4 or height, width // 4 : width - width // 4 or width] = True
    return mask


def product_foreground(image: np.ndarray, *, iterations: int = 4) -> np.ndarray:
    """A boolean mask of the garment in a product photo (RGB uint8), the size of the photo.

    Raises:
        ValueError: ``image`` is not an HxWx3 uint8 array.
    """
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"product_foreground needs an HxWx3 uint8 image, got {image.shape} {image.dtype}")
    height, width = image.shape[:2]
    scale = WORK_SIZE / max(height, width)
    small = resize_exact(image, max(8, round(width * scale)), max(8, round(height * scale)))
    sh, sw = small.shape[:2]
    seeds = np.full((sh, sw), cv2.GC_PR_BGD, np.uint8)
    my, mx = max(1, int(sh * 0.06)), max(1, int(sw * 0.06))
    seeds[my : sh - my, mx : sw - mx] = cv2.GC_PR_FGD
    seeds[:2, :] = seeds[-2:, :] = cv2.GC_BGD
    seeds[:, :2] = seeds[:, -2:] = cv2.GC_BGD
    cy, cx = sh // 2, sw // 2
    seeds[cy - sh // 10 : cy + sh // 10 + 1, cx - sw // 10 : cx + sw // 10 + 1] = cv2.GC_FGD
    background, foreground = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    try:
        cv2.setRNGSeed(GRABCUT_SEED)
        cv2.grabCut(small, seeds, None, background, foreground, iterations, cv2.GC_INIT_WITH_MASK)
        mask = (seeds == cv2.GC_FGD) | (seeds == cv2.GC_PR_FGD)
    except cv2.error:  # a flat photo (one colour) leaves GrabCut nothing to model
        mask = np.zeros((sh, sw), bool)
    share = float(mask.mean())
    if not MIN_FOREGROUND <= share <= MAX_FOREGROUND:
        mask = central_ellipse(sh, sw)
    return cv2.resize(mask.astype(np.uint8), (width, height), interpolation=cv2.INTER_NEAREST).astype(bool)


def neutral_fill(image: np.ndarray, mask: np.ndarray, *, value: int = NEUTRAL_FILL) -> np.ndarray:
    """The image with every pixel outside ``mask`` set to a neutral grey, like a studio backdrop.

    Raises:
        ValueError: ``mask`` does not have the image's height and width.
    """
    if mask.shape != image.shape[:2]:
        raise ValueError(f"mask {mask.shape} does not fit the image {image.shape[:2]}")
    out = image.copy()
    out[~mask.astype(bool)] = value
    return out


def garment_colour(crop: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray | None:
    """The CIELAB colour of the garment in an article crop: the median of its ``mask`` pixels where the
    mask covers at least 5% of the crop, else of the crop's central half. None for an empty crop."""
    from edge_bml.colour import median_lab

    if crop.size == 0:
        return None
    if mask is not None and mask.shape == crop.shape[:2] and mask.mean() >= 0.05:
        return median_lab(crop, mask)
    return median_lab(crop, central_half(*crop.shape[:2]))
