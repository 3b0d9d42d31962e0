"""Labels on the photo stay inside it, off each other and off the face."""

from __future__ import annotations

import numpy as np

from edge_bml.label_placement import face_box, place_labels


def _rects(corners, sizes):
    return [(x, y, x + w, y + h) for (x, y), (w, h) in zip(corners, sizes, strict=True)]


def _overlap(a, b):
    return max(0, min(a[2], b[2]) - max(a[0], b[0])) * max(0, min(a[3], b[3]) - max(a[1], b[1]))


def test_labels_of_one_place_do_not_cover_each_other_and_stay_inside():
    # Two garments on one place, an article at the left edge and one at the very top.
    boxes = [(100, 300, 220, 420), (102, 302, 221, 425), (0, 500, 40, 560), (150, 0, 200, 30)]
    sizes = [(90, 20), (90, 20), (120, 20), (80, 20)]
    rects = _rects(place_labels(boxes, sizes, (400, 600)), sizes)
    for i, a in enumerate(rects):
        assert 0 <= a[0] and a[2] <= 400 and 0 <= a[1] and a[3] <= 600, a
        for b in rects[i + 1 :]:
            assert _overlap(a, b) == 0, (a, b)


def test_the_eyewear_label_keeps_off_the_face():
    keypoints = np.zeros((33, 3), np.float32)
    keypoints[:11, :2] = np.array(
        [
            [200, 100],
            [190, 92],
            [185, 92],
            [180, 92],
            [210, 92],
            [215, 92],
            [220, 92],
            [170, 98],
            [230, 98],
            [193, 115],
            [207, 115],
        ]
    )
    keypoints[:11, 2] = 0.99
    face = face_box(keypoints)
    assert face is not None and face[0] < 170 and face[2] > 230
    eyewear = (178, 86, 222, 100)
    sizes = [(70, 16)]
    (rect,) = _rects(place_labels([eyewear], sizes, (400, 600), avoid=[face]), sizes)
    assert _overlap(rect, face) == 0
    assert face_box(None) is None
