"""A progressive JPEG that repeats one scan thousands of times is refused before libjpeg decodes it (#26 item 3).

The bomb is the issue's repro: a 6000x6000 progressive JPEG whose last scan is repeated 20,000 times,
1.4 MB on disk. libjpeg decodes every repeated scan: about 70 ms each here, half an hour in all.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from edge_bml.catalog.build import build_catalog
from edge_bml.errors import ImageError
from edge_bml.image_io import MAX_JPEG_SCANS, decode_image, read_image
from edge_bml.model_registry import select_variant
from edge_bml.stages.embedder import ArticleEmbedder


def scan_bomb(repeats: int = 20_000, side: int = 6000) -> bytes:
    """The issue's scan bomb: the last start-of-scan segment of a progressive JPEG, repeated."""
    ok, encoded = cv2.imencode(".jpg", np.full((side, side, 3), 128, np.uint8), [cv2.IMWRITE_JPEG_PROGRESSIVE, 1])
    data = encoded.tobytes()
    last = data.rfind(b"\xff\xda")
    return data[:-2] + data[last:-2] * repeats + b"\xff\xd9"


def _progressive(side: int = 64) -> bytes:
    rng = np.random.default_rng(3)
    image = rng.integers(0, 255, (side, side, 3), dtype=np.uint8)
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_PROGRESSIVE, 1])
    return encoded.tobytes()


def test_the_scan_bomb_is_refused_with_a_message_that_says_the_fix():
    bomb = scan_bomb()
    assert len(bomb) < 1_500_000
    with pytest.raises(ImageError) as refused:
        decode_image(bomb, name="bomb.jpg")
    assert str(refused.value) == (
        f"bomb.jpg: the JPEG has more than {MAX_JPEG_SCANS} scans, which would take minutes to decode; "
        "save it again as an ordinary JPEG"
    )


def test_an_ordinary_progressive_jpeg_still_decodes():
    data = _progressive()
    assert data.count(b"\xff\xda") == 10
    assert decode_image(data).shape == (64, 64, 3)


def test_a_jpeg_at_the_scan_limit_decodes_and_one_more_scan_is_refused():
    at_limit = scan_bomb(repeats=MAX_JPEG_SCANS - 10, side=16)
    assert at_limit.count(b"\xff\xda") == MAX_JPEG_SCANS
    assert decode_image(at_limit).shape == (16, 16, 3)
    with pytest.raises(ImageError, match="more than 100 scans"):
        decode_image(scan_bomb(repeats=MAX_JPEG_SCANS - 9, side=16))


def test_the_catalog_builder_lists_the_bomb_as_unreadable(tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    (images / "bomb.jpg").write_bytes(scan_bomb())
    (images / "fine.jpg").write_bytes(_progressive())
    (tmp_path / "items.csv").write_text("id,file,category\nbomb,bomb.jpg,top\nfine,fine.jpg,top\n")
    with pytest.raises(ImageError, match="more than 100 scans"):
        read_image(images / "bomb.jpg")
    with ArticleEmbedder(select_variant("embedder", precision="fp32"), threads=1) as embedder:
        manifest = build_catalog(tmp_path / "items.csv", images, tmp_path / "catalog", embedder)
    assert manifest.counts == {"top": 1}
    assert manifest.metrics["unreadable_images"] == 1
