"""Pictures of results: skeletons and boxes drawn on the photo, written as PNG."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from edge_bml.stages.pose import SKELETON, PersonPose


def draw_pose(image: np.ndarray, pose: PersonPose, *, min_visibility: float = 0.5) -> np.ndarray:
    """A copy of the RGB ``image`` with the skeleton, visible landmarks and person box drawn."""
    canvas = image.copy()
    thickness = max(1, round(max(image.shape[:2]) / 400))
    xy = pose.keypoints[:, :2]
    seen = pose.visibility >= min_visibility
    for a, b in SKELETON:
        if seen[a] and seen[b]:
            start, end = tuple(int(v) for v in xy[a]), tuple(int(v) for v in xy[b])
            cv2.line(canvas, start, end, (0, 200, 255), thickness, cv2.LINE_AA)
    for index, point in enumerate(xy):
        colour = (255, 60, 60) if index % 2 else (60, 255, 60)
        if index == 0:
            colour = (255, 255, 0)
        colour = colour if seen[index] else (128, 128, 128)
        cv2.circle(canvas, tuple(int(v) for v in point), thickness * 2 + 1, colour, -1, cv2.LINE_AA)
    x0, y0, x1, y1 = (int(v) for v in pose.person_box)
    cv2.rectangle(canvas, (x0, y0), (x1, y1), (255, 0, 255), thickness)
    return canvas


def write_png(path: str | Path, rgb: np.ndarray) -> None:
    """Write an RGB image as PNG (or any format OpenCV infers from the suffix).

    Raises:
        OSError: the file cannot be written.
    """
    if not cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)):
        raise OSError(f"cannot write image {path}")
