"""Where each article's label goes on the photo: readable, inside the image, off the face and each other.

Drawn at a fixed spot (the box's top-left corner), labels overlapped ("skirt" hidden under "shorts"),
were cut at the image edge ("otwear") and the eyewear label sat on the face. Each label tries, in
order: above its box, below it, right of it, left of it, inside its top-left corner, then beside the
face; the first spot that stays inside the image and clear of the labels already placed and of the
face wins, else the one that covers least. The PNG drawing and the HTML page both use it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

FACE_LANDMARKS = slice(0, 11)  # BlazePose: nose, eyes, ears, mouth


def face_box(keypoints: np.ndarray | None, *, min_visibility: float = 0.5) -> tuple[float, float, float, float] | None:
    """A box around the visible face landmarks (x, y, visibility rows), widened a little; None if unseen."""
    if keypoints is None:
        return None
    face = np.asarray(keypoints, np.float32)[FACE_LANDMARKS]
    face = face[face[:, 2] >= min_visibility] if face.shape[1] > 2 else face
    if len(face) < 3:
        return None
    x0, y0 = face[:, :2].min(0)
    x1, y1 = face[:, :2].max(0)
    pad = 0.35 * max(x1 - x0, y1 - y0)
    return float(x0 - pad), float(y0 - pad), float(x1 + pad), float(y1 + pad)


def _overlap(a: Sequence[float], b: Sequence[float]) -> float:
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    return max(width, 0.0) * max(height, 0.0)


def place_labels(
    boxes: Sequence[Sequence[float]],
    sizes: Sequence[tuple[float, float]],
    image_size: tuple[int, int],
    *,
    avoid: Sequence[Sequence[float]] = (),
) -> list[tuple[float, float]]:
    """Top-left corner of each label (``sizes``: width, height) for its box (xyxy), in image pixels."""
    width, height = image_size
    placed: list[tuple[float, float, float, float]] = []
    corners = []
    for box, (w, h) in zip(boxes, sizes, strict=True):
        x0, y0, x1, y1 = (float(v) for v in box)
        candidates = [(x0, y0 - h), (x0, y1), (x1, y0), (x0 - w, y0), (x0, y0)]
        for zx0, zy0, zx1, zy1 in avoid:  # beside the zone, where the box lies inside it (eyewear on a face)
            candidates += [(zx1, y0), (zx0 - w, y0), (x0, zy0 - h), (x0, zy1)]
        best, best_cost = None, None
        for cx, cy in candidates:
            cx = min(max(cx, 0.0), max(width - w, 0.0))
            cy = min(max(cy, 0.0), max(height - h, 0.0))
            rect = (cx, cy, cx + w, cy + h)
            cost = sum(_overlap(rect, other) for other in placed) + sum(_overlap(rect, zone) for zone in avoid)
            if best_cost is None or cost < best_cost:
                best, best_cost = rect, cost
            if cost == 0:
                break
        placed.append(best)
        corners.append((best[0], best[1]))
    return corners
