"""Photometric augmentation for detector training: colour, blur and JPEG re-encoding.

Geometric augmentation (crop jitter, scale, flip) lives in ``detector_dataset`` because it moves
the boxes; these only change pixels.
"""

from __future__ import annotations

import cv2
import numpy as np


def jitter_colour(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Random hue shift, saturation, brightness and contrast."""
    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV).astype(np.float32)
    hsv[..., 0] = (hsv[..., 0] + rng.uniform(-6, 6)) % 180
    hsv[..., 1] *= rng.uniform(0.6, 1.4)
    hsv[..., 2] *= rng.uniform(0.7, 1.3)
    out = cv2.cvtColor(np.clip(hsv, 0, 255).astype(np.uint8), cv2.COLOR_HSV2RGB).astype(np.float32)
    contrast = rng.uniform(0.8, 1.2)
    out = (out - out.mean()) * contrast + out.mean()
    return np.clip(out, 0, 255).astype(np.uint8)


def blur(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Gaussian blur with a 3 or 5 pixel kernel."""
    kernel = int(rng.choice([3, 5]))
    return cv2.GaussianBlur(rgb, (kernel, kernel), 0)


def jpeg(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Re-encode as JPEG at a random quality from 30 to 90."""
    quality = int(rng.integers(30, 91))
    ok, data = cv2.imencode(".jpg", rgb[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        return rgb
    return cv2.imdecode(data, cv2.IMREAD_COLOR)[..., ::-1].copy()


def photometric(
    rgb: np.ndarray, rng: np.random.Generator, *, p_colour: float = 0.8, p_blur: float = 0.15, p_jpeg: float = 0.25
) -> np.ndarray:
    """Apply each photometric augmentation with its probability."""
    if rng.random() < p_colour:
        rgb = jitter_colour(rgb, rng)
    if rng.random() < p_blur:
        rgb = blur(rgb, rng)
    if rng.random() < p_jpeg:
        rgb = jpeg(rgb, rng)
    return rgb
