"""Garment colour in CIELAB: what a shopper means by "the same colour".

CIELAB (D65) is close to perceptually uniform, so the Euclidean distance ΔE76 between two colours
tracks how different they look: about 2 is just noticeable, above 20 reads as another colour.
"""

from __future__ import annotations

import cv2
import numpy as np

MIN_PIXELS = 16


def rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """CIELAB (L 0..100, a and b about -128..127) of RGB uint8 pixels of any shape ``(..., 3)``.

    Raises:
        ValueError: the last axis is not 3 channels.
    """
    rgb = np.asarray(rgb)
    if rgb.shape[-1] != 3:
        raise ValueError(f"expected RGB pixels (..., 3), got shape {rgb.shape}")
    flat = rgb.reshape(-1, 1, 3).astype(np.float32) / 255.0
    return cv2.cvtColor(flat, cv2.COLOR_RGB2Lab).reshape(rgb.shape[:-1] + (3,))


def lab_to_rgb(lab: np.ndarray) -> np.ndarray:
    """RGB uint8 of CIELAB colours ``(..., 3)`` (for swatches)."""
    lab = np.asarray(lab, np.float32)
    rgb = cv2.cvtColor(lab.reshape(-1, 1, 3), cv2.COLOR_Lab2RGB).reshape(lab.shape)
    return np.clip(rgb * 255.0 + 0.5, 0, 255).astype(np.uint8)


def median_lab(image: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray | None:
    """The median CIELAB colour of an RGB image's pixels (within ``mask`` where given); None if too few.

    Raises:
        ValueError: ``mask`` does not have the image's height and width.
    """
    if mask is not None:
        if mask.shape != image.shape[:2]:
            raise ValueError(f"mask {mask.shape} does not fit the image {image.shape[:2]}")
        pixels = image[mask.astype(bool)]
    else:
        pixels = image.reshape(-1, 3)
    if len(pixels) < MIN_PIXELS:
        return None
    if len(pixels) > 20000:  # a median needs no more; the stride keeps it deterministic
        pixels = pixels[:: len(pixels) // 20000 + 1]
    return np.median(rgb_to_lab(pixels), axis=0).astype(np.float32)


def delta_e(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """ΔE76: the Euclidean distance between CIELAB colours (broadcasting over leading axes)."""
    return np.linalg.norm(np.asarray(a, np.float32) - np.asarray(b, np.float32), axis=-1)


def hex_colour(lab: np.ndarray) -> str:
    """``#rrggbb`` of one CIELAB colour."""
    r, g, b = (int(v) for v in lab_to_rgb(np.asarray(lab, np.float32)[None])[0])
    return f"#{r:02x}{g:02x}{b:02x}"
