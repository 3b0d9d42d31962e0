"""Article boxes from a CCP pixel label map, by the rule shared/data's README states.

For each coarse category: its fine labels' pixels, 8-connected components, components under 3% of
the category's pixels (or under 60 px) dropped, one box around the rest (dropped if under 150 px);
footwear gets one box per shoe (the 2 largest components). The person box applies the same rule to all non-null pixels.
"""

from __future__ import annotations

import cv2
import numpy as np

MIN_SHARE = 0.03
MIN_PIXELS = 60
# Not in the README's wording but in its annotations: a whole (non-footwear) object under 150 px is
# dropped; with it, this module reproduces all 804 annotated images of shared/data exactly.
MIN_OBJECT_PIXELS = 150


def _components(mask: np.ndarray) -> list[tuple[int, tuple[int, int, int, int]]]:
    """(area, box) of each kept 8-connected component of ``mask``, largest first; box ends exclusive."""
    count, _, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    total = int(mask.sum())
    kept = []
    for i in range(1, count):
        x, y, w, h, area = (int(v) for v in stats[i])
        if area < MIN_PIXELS or area < MIN_SHARE * total:
            continue
        kept.append((area, (x, y, x + w, y + h)))
    return sorted(kept, key=lambda item: -item[0])


def _union(parts: list[tuple[int, tuple[int, int, int, int]]]) -> tuple[int, list[int]]:
    boxes = np.array([box for _, box in parts])
    return sum(area for area, _ in parts), [
        int(boxes[:, 0].min()),
        int(boxes[:, 1].min()),
        int(boxes[:, 2].max()),
        int(boxes[:, 3].max()),
    ]


def article_objects(label_map: np.ndarray, labels: list[str], categories: dict[str, list[str]]) -> list[dict]:
    """The ``objects`` list of one annotations.json image."""
    objects = []
    for category, fines in categories.items():
        codes = [labels.index(f) for f in fines if f in labels]
        mask = np.isin(label_map, codes)
        if not mask.any():
            continue
        parts = _components(mask)
        if not parts:
            continue
        present = sorted(f for f in fines if labels.index(f) in np.unique(label_map[mask]))
        if category == "footwear":
            for area, box in parts[:2]:
                objects.append({"category": category, "fine": present, "box": list(box), "area_px": area})
        else:
            area, box = _union(parts)
            if area < MIN_OBJECT_PIXELS:
                continue
            objects.append({"category": category, "fine": present, "box": box, "area_px": area})
    return objects


def person_box(label_map: np.ndarray) -> list[int] | None:
    """The box around all non-null pixels by the same rule, or None for an empty map."""
    parts = _components(label_map > 0)
    return _union(parts)[1] if parts else None
