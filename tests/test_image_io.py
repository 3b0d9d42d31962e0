"""Decoding untrusted photos: formats, EXIF orientation, grey and alpha, and every kind of bad file."""

from __future__ import annotations

import struct
import zlib

import cv2
import numpy as np
import pytest

from edge_bml.errors import ImageError, ImageTooLargeError
from edge_bml.image_io import decode_image, read_image


def _photo() -> np.ndarray:
    """A 60x40 RGB test card: distinct colours in each corner, so rotations are detectable."""
    image = np.zeros((60, 40, 3), np.uint8)
    image[:30, :20] = (255, 0, 0)
    image[:30, 20:] = (0, 255, 0)
    image[30:, :20] = (0, 0, 255)
    image[30:, 20:] = (255, 255, 255)
    return image


def _encode(rgb: np.ndarray, ext: str, params: tuple = ()) -> bytes:
    ok, data = cv2.imencode(ext, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR) if rgb.ndim == 3 else rgb, list(params))
    if not ok:
        raise RuntimeError(ext)
    return data.tobytes()


def _with_exif_orientation(jpeg: bytes, orientation: int) -> bytes:
    tiff = b"MM\x00\x2a\x00\x00\x00\x08" + struct.pack(">H", 1)
    tiff += struct.pack(">HHIHH", 0x0112, 3, 1, orientation, 0) + struct.pack(">I", 0)
    payload = b"Exif\x00\x00" + tiff
    app1 = b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    return jpeg[:2] + app1 + jpeg[2:]


@pytest.mark.parametrize("ext", [".jpg", ".png", ".webp", ".bmp"])
def test_formats_decode_to_rgb(ext):
    params = (cv2.IMWRITE_WEBP_QUALITY, 101) if ext == ".webp" else ()
    decoded = decode_image(_encode(_photo(), ext, params), name=f"card{ext}")
    assert decoded.shape == (60, 40, 3) and decoded.dtype == np.uint8
    tolerance = 40 if ext == ".jpg" else 2
    assert np.abs(decoded[5, 5].astype(int) - (255, 0, 0)).max() <= tolerance
    assert np.abs(decoded[55, 35].astype(int) - (255, 255, 255)).max() <= tolerance


def test_exif_orientation_is_applied():
    jpeg = _with_exif_orientation(_encode(_photo(), ".jpg", (cv2.IMWRITE_JPEG_QUALITY, 98)), 6)
    decoded = decode_image(jpeg)
    assert decoded.shape == (40, 60, 3)
    # Orientation 6 rotates 90 degrees clockwise: the bottom-left blue quarter lands top-left.
    assert np.argmax(decoded[5, 5]) == 2


def test_grayscale_becomes_three_channels():
    grey = cv2.cvtColor(_photo(), cv2.COLOR_RGB2GRAY)
    decoded = decode_image(_encode(grey, ".png"))
    assert decoded.shape == (60, 40, 3)
    assert (decoded[..., 0] == decoded[..., 1]).all()


def test_transparency_is_composited_on_white():
    rgba = np.zeros((20, 20, 4), np.uint8)
    rgba[:, :10] = (0, 0, 0, 255)
    rgba[:, 10:] = (0, 0, 0, 0)
    ok, data = cv2.imencode(".png", rgba)
    decoded = decode_image(data.tobytes())
    assert (decoded[:, :10] == 0).all()
    assert (decoded[:, 10:] == 255).all()


def test_empty_text_and_truncated_files_are_errors(tmp_path):
    with pytest.raises(ImageError, match="empty"):
        decode_image(b"")
    with pytest.raises(ImageError, match="not a JPEG, PNG, WebP or BMP"):
        decode_image(b"hello, I am a text file\n" * 10)
    jpeg = _encode(_photo(), ".jpg")
    with pytest.raises(ImageError, match="truncated"):
        decode_image(jpeg[: len(jpeg) // 2])
    png = _encode(_photo(), ".png")
    with pytest.raises(ImageError, match="truncated"):
        decode_image(png[:-30])
    with pytest.raises(ImageError, match="header"):
        decode_image(png[:12])
    with pytest.raises(ImageError, match="cannot read"):
        read_image(tmp_path / "missing.jpg")


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def test_decompression_bomb_is_refused_before_decoding():
    # A 100000 x 100000 PNG header (10 gigapixels) with almost no data behind it.
    header = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    bomb = b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", zlib.compress(b"\0" * 64))
    bomb += _png_chunk(b"IEND", b"")
    with pytest.raises(ImageTooLargeError, match="megapixels"):
        decode_image(bomb)


def test_real_image_over_the_pixel_limit_is_refused(tmp_path):
    big = np.zeros((7100, 7100), np.uint8)  # 50.4 megapixels, compresses to a small PNG
    path = tmp_path / "big.png"
    cv2.imwrite(str(path), big)
    with pytest.raises(ImageTooLargeError, match="over the limit of 40"):
        read_image(path)
    assert read_image(path, max_pixels=60_000_000).shape == (7100, 7100, 3)
