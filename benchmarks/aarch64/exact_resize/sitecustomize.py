"""EXPERIMENT ONLY (``check.sh`` with ``EXACT_RESIZE=1``): OpenCV resizes made bit-exact across CPUs.

opencv-python's x86-64 wheels resize through Intel IPP, its aarch64 wheels through KleidiCV/carotene: the same
``cv2.resize(..., INTER_LINEAR)`` of the same uint8 photo differs by 1 level in about 20% of the pixels, and
``INTER_AREA`` at non-integer scales in a few pixels. ``INTER_LINEAR_EXACT`` is bit-exact everywhere. With this
folder on PYTHONPATH every uint8 INTER_LINEAR / INTER_AREA resize becomes INTER_LINEAR_EXACT (no anti-aliasing:
the results are not edge_bml's usual ones, only the same on both machines), so that a run shows what is left
once preprocessing is identical. Nothing in edge_bml imports this.
"""

import cv2
import numpy as np

_resize = cv2.resize


def _exact_resize(src, dsize=None, *args, **kwargs):
    interpolation = kwargs.get("interpolation", args[3] if len(args) > 3 else cv2.INTER_LINEAR)
    if np.asarray(src).dtype == np.uint8 and interpolation in (cv2.INTER_LINEAR, cv2.INTER_AREA):
        if len(args) > 3:
            args = (*args[:3], cv2.INTER_LINEAR_EXACT, *args[4:])
        else:
            kwargs["interpolation"] = cv2.INTER_LINEAR_EXACT
    return _resize(src, dsize, *args, **kwargs)


cv2.resize = _exact_resize
