"""Decoding untrusted photos: format sniffing, pixel limits before decoding, EXIF orientation.

Every failure is an ``ImageError`` (or ``ImageTooLargeError``) that names the file and the cause.
"""

from __future__ import annotations

import os
import re
import stat
import struct
import threading
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from edge_bml.errors import ImageError, ImageTooLargeError

MAX_PIXELS = 40_000_000
MAX_FILE_BYTES = 64 * 1024 * 1024
# Photos over this many pixels decode one at a time per process, so that server workers decoding
# large uploads at once cannot add up their peaks (a 40 MP photo needs about 160 MB while decoding).
LARGE_PIXELS = 12_000_000
_LARGE_DECODES = threading.BoundedSemaphore(1)
# libjpeg decodes every scan of a progressive JPEG: a small file that repeats one scan thousands of times
# holds a decoder for minutes. Encoders write about 10 scans; more than this many is refused unread.
MAX_JPEG_SCANS = 100
_COMPOSITE_ROWS = 256


def sniff_format(data: bytes) -> str | None:
    """The image format from its first bytes: jpeg, png, webp, bmp, or None."""
    if data[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data[:2] == b"BM":
        return "bmp"
    return None


_SOF_MARKERS = (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF)


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    for marker, offset in _jpeg_markers(data, whole_stream=False):
        if marker in _SOF_MARKERS:
            if offset + 9 >= len(data):
                return None
            height, width = struct.unpack(">HH", data[offset + 5 : offset + 9])
            return width, height
    return None


def header_size(data: bytes, fmt: str) -> tuple[int, int] | None:
    """(width, height) read from the header alone, without decoding pixels."""
    try:
        if fmt == "png" and len(data) >= 24:
            return struct.unpack(">II", data[16:24])
        if fmt == "jpeg":
            return _jpeg_size(data)
        if fmt == "bmp" and len(data) >= 26:
            width, height = struct.unpack("<ii", data[18:26])
            return abs(width), abs(height)
        if fmt == "webp" and len(data) >= 30:
            chunk = data[12:16]
            if chunk == b"VP8X":
                width = int.from_bytes(data[24:27], "little") + 1
                height = int.from_bytes(data[27:30], "little") + 1
                return width, height
            if chunk == b"VP8 ":
                width, height = struct.unpack("<HH", data[26:30])
                return width & 0x3FFF, height & 0x3FFF
            if chunk == b"VP8L":
                bits = int.from_bytes(data[21:25], "little")
                return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    except struct.error:
        return None
    return None


# A marker inside entropy-coded data: 0xFF not followed by a stuffed 0x00, a restart marker or fill 0xFF.
_JPEG_MARKER = re.compile(rb"\xff[\x01-\xcf\xd8-\xfe]")


def _jpeg_markers(data: bytes, *, whole_stream: bool = True) -> Iterator[tuple[int, int]]:
    """(marker, offset) of each JPEG marker in order, from just after start-of-image, until the data breaks
    off or stops being a marker stream. With ``whole_stream`` the entropy-coded data after a start-of-scan
    is skipped to its next marker and end-of-image ends the walk; without, only the header is walked
    (as reading the frame size needs)."""
    offset = 2
    while offset + 1 < len(data):
        if data[offset] != 0xFF:
            return
        marker = data[offset + 1]
        if marker == 0xFF:
            offset += 1
            continue
        yield marker, offset
        if marker == 0xD9 and whole_stream:
            return
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            offset += 2
            continue
        if offset + 4 > len(data):
            return
        (length,) = struct.unpack(">H", data[offset + 2 : offset + 4])
        offset += 2 + length
        if marker == 0xDA and whole_stream:
            found = _JPEG_MARKER.search(data, offset)
            if found is None:
                return
            offset = found.start()


def _jpeg_end(data: bytes, *, name: str = "<bytes>") -> int | None:
    """Offset just past the JPEG's end-of-image marker, walking its segments; None if cut off.

    Data after the end marker (as phones append for motion photos) is ignored.

    Raises:
        ImageError: the JPEG has more than ``MAX_JPEG_SCANS`` scans (a decoding-time bomb).
    """
    scans = 0
    for marker, offset in _jpeg_markers(data):
        if marker == 0xDA:
            scans += 1
            if scans > MAX_JPEG_SCANS:
                raise ImageError(
                    f"{name}: the JPEG has more than {MAX_JPEG_SCANS} scans, which would take minutes to decode; "
                    "save it again as an ordinary JPEG"
                )
        elif marker == 0xD9:
            return offset + 2
    return None


def _looks_truncated(data: bytes, fmt: str, name: str) -> bool:
    if fmt == "jpeg":
        return _jpeg_end(data, name=name) is None
    if fmt == "png":
        return b"IEND" not in data[-64:]
    return False


def decode_image(data: bytes, *, name: str = "<bytes>", max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Decode JPEG/PNG/WebP/BMP bytes into an RGB uint8 array, EXIF orientation applied.

    Grayscale becomes three equal channels; transparency is composited on white.

    Raises:
        ImageError: empty, not an image, truncated, undecodable, or a JPEG of over ``MAX_JPEG_SCANS`` scans.
        ImageTooLargeError: more than ``max_pixels`` pixels, by header or after decoding.
    """
    if not data:
        raise ImageError(f"{name}: the file is empty")
    fmt = sniff_format(data)
    if fmt is None:
        raise ImageError(f"{name}: not a JPEG, PNG, WebP or BMP image")
    size = header_size(data, fmt)
    if size is None:
        raise ImageError(f"{name}: the {fmt} header is damaged or cut off")
    width, height = size
    if width <= 0 or height <= 0:
        raise ImageError(f"{name}: the {fmt} header gives an empty size {width}x{height}")
    if width * height > max_pixels:
        raise ImageTooLargeError(
            f"{name}: {width}x{height} is {width * height / 1e6:.1f} megapixels, over the limit of "
            f"{max_pixels / 1e6:.0f}; resize the photo before sending it"
        )
    if _looks_truncated(data, fmt, name):
        raise ImageError(f"{name}: the {fmt} data is truncated (the file was cut off); send the whole file")
    if width * height > LARGE_PIXELS:
        with _LARGE_DECODES:
            return _decode_pixels(data, fmt, name=name, max_pixels=max_pixels)
    return _decode_pixels(data, fmt, name=name, max_pixels=max_pixels)


def _decode_pixels(data: bytes, fmt: str, *, name: str, max_pixels: int) -> np.ndarray:
    """Decode once where the format may carry transparency; composite on white in bands of rows.

    Memory stays near one copy of the pixels: a 6300x6300 RGBA PNG took 1.5 GB when it was decoded
    twice and composited in float32 at once, 0.3 GB now (``edge_bml.image_io``, measured in the README).
    """
    buffer = np.frombuffer(data, np.uint8)
    if fmt in ("png", "webp"):
        raw = cv2.imdecode(buffer, cv2.IMREAD_UNCHANGED)
        if raw is not None and raw.ndim == 3 and raw.shape[2] == 4:
            _check_decoded(raw, name, max_pixels)
            return _composite_on_white(raw)
        del raw  # decode again with EXIF orientation and colour conversion, as for every other photo
    bgr = cv2.imdecode(buffer, cv2.IMREAD_COLOR)
    if bgr is None:
        raise ImageError(f"{name}: the {fmt} data could not be decoded")
    _check_decoded(bgr, name, max_pixels)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def _check_decoded(pixels: np.ndarray, name: str, max_pixels: int) -> None:
    if pixels.shape[0] * pixels.shape[1] > max_pixels:
        raise ImageTooLargeError(f"{name}: decoded to {pixels.shape[1]}x{pixels.shape[0]}, over the pixel limit")


def _composite_on_white(bgra: np.ndarray) -> np.ndarray:
    """RGB uint8 of a BGRA image (8 or 16 bits) laid on white, a band of rows at a time."""
    full = 65535.0 if bgra.dtype == np.uint16 else 255.0
    rgb = np.empty(bgra.shape[:2] + (3,), np.uint8)
    for top in range(0, bgra.shape[0], _COMPOSITE_ROWS):
        band = bgra[top : top + _COMPOSITE_ROWS].astype(np.float32) / full
        alpha = band[..., 3:4]
        mixed = band[..., 2::-1] * alpha + (1.0 - alpha)
        rgb[top : top + _COMPOSITE_ROWS] = (mixed * 255.0).round().astype(np.uint8)
    return rgb


def read_image(path: str | Path, *, max_pixels: int = MAX_PIXELS, max_bytes: int = MAX_FILE_BYTES) -> np.ndarray:
    """Read and decode an image file into RGB uint8.

    Raises:
        ImageError: the file is missing, unreadable or not a usable image.
        ImageTooLargeError: the file or image is over the limits.
    """
    path = Path(path)
    return decode_image(read_file_bounded(path, max_bytes=max_bytes), name=str(path), max_pixels=max_pixels)


def _not_regular(path: Path, mode: int) -> ImageError:
    kind = "a folder" if stat.S_ISDIR(mode) else "not a regular file (a device, pipe or socket)"
    return ImageError(f"{path}: cannot read: it is {kind}; give the path of a photo file")


def read_file_bounded(path: str | Path, *, max_bytes: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of a regular file (symlinks followed), reading at most ``max_bytes``.

    Devices, FIFOs and sockets are refused before they are opened, so a FIFO cannot hang the
    caller; the size limit is enforced on the bytes actually read, not on ``st_size``.

    Raises:
        ImageError: the file is missing, unreadable or not a regular file.
        ImageTooLargeError: the file holds more than ``max_bytes``.
    """
    path = Path(path)
    try:
        mode = os.stat(path).st_mode
        if not stat.S_ISREG(mode):
            raise _not_regular(path, mode)
        # O_NONBLOCK: should the path become a FIFO after the check, opening it still returns at once.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
        with os.fdopen(fd, "rb") as handle:
            mode = os.fstat(handle.fileno()).st_mode
            if not stat.S_ISREG(mode):
                raise _not_regular(path, mode)
            data = handle.read(max_bytes + 1)
    except OSError as error:
        raise ImageError(f"{path}: cannot read: {error.strerror or error}") from error
    if len(data) > max_bytes:
        raise ImageTooLargeError(f"{path}: over the {max_bytes / 1e6:.0f} MB limit")
    return data


def decode_timed(image, timer) -> np.ndarray:
    """An RGB array from a path (read under ``timer``'s "decode" stage) or the array given, as evaluations take both.

    Raises:
        ImageError / ImageTooLargeError: as ``read_image``.
    """
    with timer.stage("decode"):
        return read_image(image) if isinstance(image, (str, Path)) else image
