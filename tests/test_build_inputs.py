"""Product tables and folders that used to crash a build (often after all the embedding) end as one-line
errors before any embedding, or as skipped rows in ``build_report.json`` (#26 items 12 and 13)."""

from __future__ import annotations

import errno
import json
import os
import shutil
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge_bml.catalog import embedding_cache
from edge_bml.catalog.build import build_catalog
from edge_bml.catalog.search import Catalog
from edge_bml.cli.main import main
from edge_bml.errors import CatalogError
from edge_bml.look_html import _thumbnail


@pytest.fixture
def source(tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    for n in range(4):
        image = np.full((64, 48, 3), 235, np.uint8)
        image[8:56, 8:40] = (40 * n, 100, 200 - 40 * n)
        cv2.imwrite(str(images / f"p{n}.jpg"), image)
    return tmp_path / "items.csv", images


def _table(path: Path, extra: str = "", header: str = "id,file,category") -> Path:
    rows = "".join(f"p{n},p{n}.jpg,top\n" for n in range(4))
    path.write_text(f"{header}\n{rows}{extra}", encoding="utf-8")
    return path


def _build(source, out: Path, *flags: str) -> int:
    items, images = source
    return main(["catalog", "build", "--images", str(images), "--items", str(items), "--out", str(out), *flags])


def _skipped(out: Path) -> list[dict]:
    return json.loads((out / "build_report.json").read_text())["skipped_rows"]


def _error_line(capsys) -> str:
    err = capsys.readouterr().err.replace("\r", "\n")  # progress bars redraw with \r
    lines = [line[line.index("edge-bml: error:") :] for line in err.splitlines() if "edge-bml: error:" in line]
    assert len(lines) == 1, lines
    return lines[0]


def test_a_category_too_long_for_a_file_name_is_a_skipped_row(tmp_path, source):
    _table(source[0], "p9,p0.jpg," + "a" * 300 + "\n")
    assert _build(source, tmp_path / "cat") == 0
    [row] = _skipped(tmp_path / "cat")
    assert row["id"] == "p9" and "300 characters" in row["reason"]


def test_a_symlink_loop_in_the_images_folder_is_a_skipped_row(tmp_path, source):
    items, images = source
    os.symlink("loop_b", images / "loop_a")
    os.symlink("loop_a", images / "loop_b")
    _table(items, "p9,loop_a,top\n")
    assert _build(source, tmp_path / "cat") == 0
    [row] = _skipped(tmp_path / "cat")
    assert row["id"] == "p9" and "cannot be resolved" in row["reason"]


def test_a_nul_byte_in_the_file_column_is_a_skipped_row(tmp_path, source):
    _table(source[0], "p9,p0\x00.jpg,top\n")
    assert _build(source, tmp_path / "cat") == 0
    [row] = _skipped(tmp_path / "cat")
    assert row == {"line": 6, "id": "p9", "reason": "file 'p0\\x00.jpg' holds a NUL byte"}


def test_a_field_over_the_csv_limit_is_one_line_naming_the_line(tmp_path, source, capsys):
    _table(source[0], "p9,p0.jpg,top," + "x" * 140_000 + "\n", header="id,file,category,note")
    assert _build(source, tmp_path / "cat") == 2
    line = _error_line(capsys)
    assert "items.csv line 6: field larger than field limit (131072)" in line and "quote" in line
    assert not os.path.lexists(tmp_path / ".cat.embeddings")  # refused before any embedding


def test_a_local_build_of_a_parquet_table_says_to_use_ray_or_csv(tmp_path, source, capsys):
    pq = pytest.importorskip("pyarrow.parquet")
    import pyarrow as pa

    table = tmp_path / "items.parquet"
    pq.write_table(pa.Table.from_pylist([{"id": "p0", "file": "p0.jpg", "category": "top"}]), table)
    assert (
        main(["catalog", "build", "--images", str(source[1]), "--items", str(table), "--out", str(tmp_path / "c")]) == 2
    )
    line = _error_line(capsys)
    assert "is a Parquet table" in line and "--engine ray" in line and "CSV" in line


def test_a_corrupt_parquet_table_for_ray_is_a_catalog_error(tmp_path, source):
    pytest.importorskip("pyarrow.parquet")
    from edge_bml.catalog.products import ColumnMap
    from edge_bml.catalog.ray_build import read_product_table

    table = tmp_path / "items.parquet"
    table.write_bytes(b"PAR1" + os.urandom(200) + b"PAR1")
    with pytest.raises(CatalogError, match="not a readable Parquet table"):
        read_product_table(str(table), str(source[1]), columns=ColumnMap())


def test_a_folder_given_as_the_table_is_one_line(tmp_path, source, capsys):
    items, images = source
    assert (
        main(["catalog", "build", "--images", str(images), "--items", str(images), "--out", str(tmp_path / "c")]) == 2
    )
    assert "is a folder, not a file" in _error_line(capsys)


class _StopAfter:
    """The embedder, stopping the build (as a kill would) at its ``calls``-th batch."""

    def __init__(self, embedder, calls: int) -> None:
        self.embedder, self.manifest, self.left = embedder, embedder.manifest, calls

    def embed(self, crops, batch_size):
        self.left -= 1
        if self.left < 0:
            raise KeyboardInterrupt
        return self.embedder.embed(crops, batch_size=batch_size)


def test_resume_drops_a_truncated_cache_chunk_and_embeds_it_again(tmp_path, source, embedder, capsys):
    items, images = source
    _table(items)
    out = tmp_path / "cat"
    with pytest.raises(KeyboardInterrupt):
        build_catalog(items, images, out, _StopAfter(embedder, 2), chunk=1)
    cache = tmp_path / ".cat.embeddings"
    first, _ = sorted(cache.glob("chunk_*.npz"))
    first.write_bytes(first.read_bytes()[:100])
    # Three batches are left: the dropped chunk's product and the two never embedded; the second chunk is read.
    manifest = build_catalog(items, images, out, _StopAfter(embedder, 3), chunk=1, resume=True)
    assert manifest.total == 4 and manifest.metrics["unreadable_images"] == 0
    assert f"{first}: damaged" in capsys.readouterr().err
    assert not cache.exists()


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name not in ("items.csv", "images"))


def test_a_full_disk_while_writing_the_catalog_is_one_line_and_leaves_nothing(tmp_path, source, monkeypatch, capsys):
    _table(source[0])

    def full(directory, rows):
        raise OSError(errno.ENOSPC, "No space left on device", str(directory / "products.jsonl"))

    monkeypatch.setattr("edge_bml.catalog.build.write_products_file", full)
    assert _build(source, tmp_path / "cat") == 2
    assert "disk full while writing" in _error_line(capsys)
    assert _leftovers(tmp_path) == []


def test_a_full_disk_in_usearch_words_is_one_line_and_leaves_nothing(tmp_path, source, monkeypatch, capsys):
    from usearch.index import Index

    _table(source[0])

    def failed(self, path, *args, **kwargs):
        Path(path).write_bytes(b"\0" * 100)
        raise RuntimeError("Failed to serialize into file")

    monkeypatch.setattr(Index, "save", failed)
    monkeypatch.setattr(shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(1 << 30, 1 << 30, 4096))
    assert _build(source, tmp_path / "cat") == 2
    assert "disk full while writing" in _error_line(capsys)
    assert _leftovers(tmp_path) == []


def test_a_full_disk_while_caching_embeddings_is_one_line_and_leaves_nothing(tmp_path, source, monkeypatch, capsys):
    _table(source[0])

    def full(path, **arrays):
        Path(path).write_bytes(b"PK")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(embedding_cache.np, "savez", full)
    assert _build(source, tmp_path / "cat") == 2
    assert "disk full while writing" in _error_line(capsys)
    assert _leftovers(tmp_path) == []


def test_a_full_disk_during_catalog_add_is_one_line_and_keeps_the_catalog(tmp_path, source, monkeypatch, capsys):
    from edge_bml.catalog.catalog_manifest import verify_catalog_files

    items, images = source
    _table(items)
    assert _build(source, tmp_path / "cat") == 0
    more = tmp_path / "more.csv"
    more.write_text("id,file,category\np9,p0.jpg,top\n")

    def full(directory, rows):
        raise OSError(errno.ENOSPC, "No space left on device", str(directory / "products.jsonl"))

    monkeypatch.setattr("edge_bml.catalog.edit.write_products_file", full)
    add = ["catalog", "add", "--catalog", str(tmp_path / "cat"), "--items", str(more), "--images", str(images)]
    assert main(add) == 2
    assert "disk full while writing" in _error_line(capsys)
    assert _leftovers(tmp_path) == ["cat", "more.csv"]
    with Catalog(tmp_path / "cat") as catalog:
        assert catalog.manifest.total == 4
        verify_catalog_files(tmp_path / "cat", catalog.manifest, hashes=True, use_stamp=False)


# After the build: the catalog's photos may have become loops or FIFOs; look --html must neither crash nor hang.


def test_a_product_photo_turned_into_a_symlink_loop_has_no_image(tmp_path, source, embedder):
    items, images = source
    _table(items)
    build_catalog(items, images, tmp_path / "cat", embedder)
    (images / "p0.jpg").unlink()
    os.symlink("p0.jpg", images / "p0.jpg")
    with Catalog(tmp_path / "cat", trust=True) as catalog:
        row = next(r for r in catalog.products.values() if r["id"] == "p0")
        assert catalog.image_path(row) is None


def test_the_html_thumbnail_refuses_a_fifo_instead_of_hanging(tmp_path):
    fifo = tmp_path / "photo.jpg"
    os.mkfifo(fifo)
    found = []
    reader = threading.Thread(target=lambda: found.append(_thumbnail(fifo)), daemon=True)
    reader.start()
    reader.join(timeout=5)
    hung = reader.is_alive()
    if hung:  # release the blocked open() so the thread ends
        with open(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK), "wb"):
            pass
    assert not hung and found == [""]
