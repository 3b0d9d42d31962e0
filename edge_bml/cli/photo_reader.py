"""The photos a command was given, decoded one by one; a bad file is reported and the rest still run.

A folder stands for the photos directly inside it (JPEG, PNG, WebP, BMP by suffix, sorted by name).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from edge_bml.errors import EdgeBmlError, ImageError
from edge_bml.image_io import read_image
from edge_bml.timing import StageTimer

PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp")


class NoPhotosError(EdgeBmlError):
    """A folder given as a photo holds no photo."""


def photo_paths(paths: list[Path]) -> list[Path]:
    """The photo files ``paths`` name: files as given, folders replaced by the photos directly inside.

    Raises:
        NoPhotosError: a folder holds no file with a photo suffix.
    """
    found = []
    for path in paths:
        if not path.is_dir():
            found.append(path)
            continue
        inside = sorted(p for p in path.iterdir() if p.suffix.lower() in PHOTO_SUFFIXES and not p.is_dir())
        if not inside:
            raise NoPhotosError(f"{path} is a folder with no photos in it ({', '.join(PHOTO_SUFFIXES)})")
        found.extend(inside)
    return found


class PhotoReader:
    """Iterate to get (path, RGB image, timer that has timed ``decode``); ``failures`` counts bad files.

    Raises:
        NoPhotosError: a folder among ``paths`` holds no photo.
    """

    def __init__(self, paths: list[Path], *, command: str) -> None:
        self.paths = photo_paths(paths)
        self.command = command
        self.failures = 0

    def __iter__(self) -> Iterator[tuple[Path, np.ndarray, StageTimer]]:
        for path in self.paths:
            timer = StageTimer()
            try:
                with timer.stage("decode"):
                    image = read_image(path)
            except ImageError as error:
                self.failures += 1
                print(f"{self.command}: {error}", file=sys.stderr)
                continue
            yield path, image, timer
