"""The photos a command was given, decoded one by one; a bad file is reported and the rest still run."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from edge_bml.errors import ImageError
from edge_bml.image_io import read_image
from edge_bml.timing import StageTimer


class PhotoReader:
    """Iterate to get (path, RGB image, timer that has timed ``decode``); ``failures`` counts bad files."""

    def __init__(self, paths: list[Path], *, command: str) -> None:
        self.paths = paths
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
