"""resize_exact: built only from OpenCV paths that are bit-identical on x86 and aarch64, and still a proper
area filter (anti-aliased, geometry kept). The cross-CPU identity itself is checked by
benchmarks/aarch64/check.sh, which runs the same photos on an emulated Cortex-A76."""

import cv2
import numpy as np
import pytest

from edge_bml.geometry import letterbox
from edge_bml.resampling import resize_exact


def _checkerboard(height: int, width: int) -> np.ndarray:
    board = ((np.indices((height, width)).sum(0) % 2) * 255).astype(np.uint8)
    return np.repeat(board[..., None], 3, axis=2)


def test_whole_number_shrink_is_opencv_area_average() -> None:
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (120, 90, 3), dtype=np.uint8)
    out = resize_exact(image, 30, 40)  # 3x on both axes: no bilinear step at all
    np.testing.assert_array_equal(out, cv2.resize(image, (30, 40), interpolation=cv2.INTER_AREA))
    mean = image.reshape(40, 3, 30, 3, 3).mean(axis=(1, 3))
    assert np.abs(out.astype(float) - mean).max() <= 0.5 + 1e-9


@pytest.mark.parametrize("size", [(97, 131), (50, 50), (224, 160)])
def test_shrink_by_any_factor_does_not_alias(size: tuple[int, int]) -> None:
    # A one-pixel checkerboard shrunk by a non-whole factor: an area filter gives flat grey, a plain
    # bilinear resample (what INTER_LINEAR_EXACT alone does) gives stripes.
    board = _checkerboard(413, 311)
    out = resize_exact(board, *size)
    assert out.shape == (size[1], size[0], 3)
    assert abs(float(out.mean()) - 127.5) < 3 and float(out.std()) < 6
    plain = cv2.resize(board, size, interpolation=cv2.INTER_LINEAR_EXACT)
    assert float(plain.std()) > 30


def test_geometry_is_kept() -> None:
    # A bright block keeps its centre (continuous coordinates) through a shrink by a non-whole factor.
    image = np.zeros((700, 500, 3), np.uint8)
    image[300:380, 120:200] = 255
    out = resize_exact(image, 173, 242).astype(float)[..., 0]
    ys, xs = np.indices(out.shape)
    cx, cy = (xs * out).sum() / out.sum() + 0.5, (ys * out).sum() / out.sum() + 0.5
    assert cx == pytest.approx(160 * 173 / 500, abs=0.15)
    assert cy == pytest.approx(340 * 242 / 700, abs=0.15)


def test_growing_and_same_size() -> None:
    image = np.random.default_rng(1).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    np.testing.assert_array_equal(
        resize_exact(image, 60, 50), cv2.resize(image, (60, 50), interpolation=cv2.INTER_LINEAR_EXACT)
    )
    same = resize_exact(image, 30, 20)
    np.testing.assert_array_equal(same, image)
    assert same is not image
    assert resize_exact(image[..., 0], 10, 7).shape == (7, 10)


@pytest.mark.parametrize(
    "image, size",
    [
        (np.zeros((10, 10, 3), np.float32), (5, 5)),
        (np.zeros((0, 10, 3), np.uint8), (5, 5)),
        (np.zeros((10, 10, 3), np.uint8), (0, 5)),
    ],
)
def test_bad_input_is_a_value_error(image: np.ndarray, size: tuple[int, int]) -> None:
    with pytest.raises(ValueError, match="resize_exact"):
        resize_exact(image, *size)


def test_letterbox_uses_the_exact_resize() -> None:
    image = np.random.default_rng(2).integers(0, 256, (800, 533, 3), dtype=np.uint8)
    padded, box = letterbox(image, 224, 224)
    new_w = round(533 * 224 / 800)
    left = int((224 - new_w) / 2)
    np.testing.assert_array_equal(padded[:, left : left + new_w], resize_exact(image, new_w, 224))
    assert box.pad_x == left and box.scale_y == pytest.approx(224 / 800)
