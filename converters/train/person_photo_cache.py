"""Training photos decoded once and kept downscaled, so that each person crop is a little larger than the
model input; one ``.npy`` per photo in a cache outside the repository (detector and parser datasets)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from edge_bml.image_io import read_image


def cached_person_photo(
    photo: Path, image_id: str, person_box, *, cache_dir: Path, height: int, oversize: float, margin: float
) -> tuple[np.ndarray, float]:
    """The photo scaled so its person crop (``margin`` added) is ``oversize`` x ``height`` high (never
    enlarged), and that scale; read from ``cache_dir`` when there, else made and stored atomically.

    Raises:
        ImageError: the photo cannot be read.
    """
    person_height = float(person_box[3] - person_box[1])
    scale = min(1.0, oversize * height / (person_height * (1 + 2 * margin)))
    path = cache_dir / f"{image_id}.npy"
    if path.is_file():
        return np.load(path), scale
    image = read_image(photo)
    small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else image
    tmp = path.with_suffix(".tmp.npy")
    np.save(tmp, small)
    tmp.replace(path)
    return small, scale
