"""Street-like views of catalog product photos: what a shop photo looks like when worn outdoors.

Used to train the embedder (anchor = product shot, positive = street view of the same item) and,
with a fixed seed, to make the instance-retrieval queries of the evaluation. numpy + OpenCV only.

``colour="jitter"`` (the default, and what the evaluation's queries use) shifts hue-free colour
strongly: saturation, per-channel casts and gamma, so an embedder trained on it learns to ignore
colour. ``colour="mild"`` keeps colour and pattern: brightness and contrast within ±15% only.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

PAD_VALUE = 124
COLOUR_MODES = ("jitter", "mild")
MILD_LIGHT = 0.15


def random_crop(image: np.ndarray, rng: np.random.Generator, *, min_area: float) -> np.ndarray:
    """A random crop keeping ``min_area``..1 of the area, aspect jittered by up to 25%."""
    h, w = image.shape[:2]
    area = rng.uniform(min_area, 1.0)
    aspect = np.exp(rng.uniform(np.log(0.8), np.log(1.25)))
    cw = int(round(min(w, max(8, w * np.sqrt(area * aspect)))))
    ch = int(round(min(h, max(8, h * np.sqrt(area / aspect)))))
    x0 = int(rng.integers(0, w - cw + 1))
    y0 = int(rng.integers(0, h - ch + 1))
    return image[y0 : y0 + ch, x0 : x0 + cw]


def jitter_colour(image: np.ndarray, rng: np.random.Generator, *, strength: float) -> np.ndarray:
    """Brightness, contrast, saturation, per-channel cast and gamma; ``strength`` 0..1 scales them."""
    x = image.astype(np.float32) / 255.0
    x = x * (1.0 + strength * rng.uniform(-0.4, 0.4))
    mean = x.mean()
    x = (x - mean) * (1.0 + strength * rng.uniform(-0.35, 0.35)) + mean
    grey = x.mean(axis=2, keepdims=True)
    x = (x - grey) * (1.0 + strength * rng.uniform(-0.5, 0.4)) + grey
    x = x * (1.0 + strength * rng.uniform(-0.12, 0.12, size=3)).astype(np.float32)
    x = np.clip(x, 0.0, 1.0) ** np.exp(strength * rng.uniform(-0.35, 0.35))
    return np.clip(x * 255.0 + 0.5, 0, 255).astype(np.uint8)


def mild_light(image: np.ndarray, rng: np.random.Generator, *, amount: float = MILD_LIGHT) -> np.ndarray:
    """Brightness and contrast each within ±``amount``; hue, saturation and channel balance kept."""
    x = image.astype(np.float32)
    x = x * (1.0 + rng.uniform(-amount, amount))
    mean = x.mean()
    x = (x - mean) * (1.0 + rng.uniform(-amount, amount)) + mean
    return np.clip(x + 0.5, 0, 255).astype(np.uint8)


def _check_colour(colour: str) -> None:
    if colour not in COLOUR_MODES:
        raise ValueError(f"colour must be one of {COLOUR_MODES}, got {colour!r}")


def _background(backgrounds: Sequence[np.ndarray], rng: np.random.Generator, size: int) -> np.ndarray:
    if not backgrounds:
        return np.full((size, size, 3), PAD_VALUE, np.uint8)
    bg = backgrounds[int(rng.integers(len(backgrounds)))]
    patch = random_crop(bg, rng, min_area=0.1)
    return cv2.resize(patch, (size, size), interpolation=cv2.INTER_AREA)


def _paste_with_perspective(
    garment: np.ndarray, canvas: np.ndarray, rng: np.random.Generator, *, warp: float
) -> np.ndarray:
    size = canvas.shape[0]
    h, w = garment.shape[:2]
    scale = rng.uniform(0.6, 0.95) * size / max(h, w)
    gw, gh = w * scale, h * scale
    x0 = rng.uniform(0, size - gw)
    y0 = rng.uniform(0, size - gh)
    dst = np.array([[x0, y0], [x0 + gw, y0], [x0 + gw, y0 + gh], [x0, y0 + gh]], np.float32)
    dst += rng.uniform(-warp, warp, size=(4, 2)).astype(np.float32) * size
    src = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
    matrix = cv2.getPerspectiveTransform(src, dst)
    warped = cv2.warpPerspective(garment, matrix, (size, size), flags=cv2.INTER_LINEAR)
    mask = cv2.warpPerspective(np.ones((h, w), np.float32), matrix, (size, size), flags=cv2.INTER_LINEAR)
    feather = max(1, int(size * rng.uniform(0.01, 0.04))) * 2 + 1
    mask = cv2.GaussianBlur(mask * (mask > 0.5), (feather, feather), 0)[..., None]
    return (warped * mask + canvas * (1.0 - mask)).astype(np.uint8)


def _degrade(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    size = image.shape[0]
    if rng.random() < 0.35:
        small = max(16, int(size * rng.uniform(0.35, 0.7)))
        image = cv2.resize(cv2.resize(image, (small, small), interpolation=cv2.INTER_AREA), (size, size))
    if rng.random() < 0.5:
        image = cv2.GaussianBlur(image, (0, 0), rng.uniform(0.4, 1.4))
    if rng.random() < 0.5:
        noise = rng.normal(0.0, rng.uniform(2.0, 7.0), size=image.shape)
        image = np.clip(image + noise, 0, 255).astype(np.uint8)
    quality = int(rng.integers(30, 91))
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    return cv2.imdecode(encoded, cv2.IMREAD_UNCHANGED) if ok else image


def street_view(
    image: np.ndarray,
    *,
    rng: np.random.Generator,
    backgrounds: Sequence[np.ndarray],
    size: int,
    colour: str = "jitter",
) -> np.ndarray:
    """A ``size`` x ``size`` RGB street-like view of a product photo.

    Random crop and scale, perspective, pasted on a person-photo background (the neutral grey
    when ``backgrounds`` is empty), light shifts, blur or low resolution, noise, JPEG. With
    ``colour="jitter"`` the view gets strong colour shifts (saturation, casts, gamma); with
    ``"mild"`` only brightness and contrast change, within ±15%.

    Raises:
        ValueError: ``image`` is not an HxWx3 uint8 array, or ``colour`` is unknown.
    """
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"street_view needs an HxWx3 uint8 image, got {image.shape} {image.dtype}")
    _check_colour(colour)
    garment = random_crop(image, rng, min_area=0.55)
    if rng.random() < 0.5:
        garment = garment[:, ::-1]
    canvas = _background(backgrounds, rng, size)
    view = _paste_with_perspective(np.ascontiguousarray(garment), canvas, rng, warp=0.08)
    view = jitter_colour(view, rng, strength=1.0) if colour == "jitter" else mild_light(view, rng)
    return _degrade(view, rng)


def product_view(image: np.ndarray, *, rng: np.random.Generator, colour: str = "jitter") -> np.ndarray:
    """A mildly augmented product photo (the anchor side of a training pair).

    ``colour="jitter"`` shifts colour at 0.3 of the street view's strength; ``"mild"`` changes
    brightness and contrast only (±15%).

    Raises:
        ValueError: ``colour`` is unknown.
    """
    _check_colour(colour)
    view = random_crop(image, rng, min_area=0.8)
    if rng.random() < 0.5:
        view = view[:, ::-1]
    view = np.ascontiguousarray(view)
    return jitter_colour(view, rng, strength=0.3) if colour == "jitter" else mild_light(view, rng)
