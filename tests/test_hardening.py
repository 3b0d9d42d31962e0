"""Issue 14 (hardening): every defect's reproducer, on tiny synthetic catalogs built with the shipped embedder."""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge_bml.catalog.build import build_catalog
from edge_bml.catalog.catalog_manifest import read_catalog_manifest, read_products_file
from edge_bml.catalog.edit import add_products, remove_products
from edge_bml.catalog.embedding_cache import EmbeddingCache
from edge_bml.catalog.products import ColumnMap, read_products
from edge_bml.catalog.search import Catalog
from edge_bml.catalog.staging import remove_stale_staging, staged_directory
from edge_bml.cli.main import main
from edge_bml.errors import CatalogError, CatalogIntegrityError, ImageError, ImageTooLargeError
from edge_bml.image_io import decode_image, read_image

COLOURS = [(200, 30, 30), (30, 200, 30), (30, 30, 200), (220, 220, 40), (40, 200, 200), (120, 60, 160)]


def _photo(colour: tuple[int, int, int], seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    image = np.full((64, 48, 3), 235, np.uint8)
    image[8:56, 8:40] = colour
    return np.clip(image.astype(np.int16) + rng.integers(-8, 8, image.shape), 0, 255).astype(np.uint8)


def _jpeg(image: np.ndarray) -> bytes:
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    assert ok
    return data.tobytes()


def _write_csv(path: Path, rows: list[tuple[str, str, str]], *, encoding: str = "utf-8") -> Path:
    lines = ["id,file,category"] + [",".join(row) for row in rows]
    path.write_bytes(("\n".join(lines) + "\n").encode(encoding))
    return path


def _images(root: Path, count: int = 6) -> Path:
    images = root / "images"
    images.mkdir(parents=True)
    for n in range(count):
        (images / f"p{n}.jpg").write_bytes(_jpeg(_photo(COLOURS[n % len(COLOURS)], n)))
    return images


GOOD_ROWS = [(f"p{n}", f"p{n}.jpg", "top" if n % 2 else "bottom") for n in range(6)]


@pytest.fixture(scope="module")
def catalog_source(tmp_path_factory):
    root = tmp_path_factory.mktemp("source")
    images = _images(root)
    return _write_csv(root / "items.csv", GOOD_ROWS), images


@pytest.fixture
def catalog(tmp_path, catalog_source, embedder):
    items, images = catalog_source
    out = tmp_path / "catalog"
    build_catalog(items, images, out, embedder, chunk=4)
    return out


# Item 1: the builder stays inside --images.


def test_rows_reading_outside_the_images_folder_are_skipped_with_the_reason(tmp_path, embedder):
    images = _images(tmp_path / "data")
    secret = tmp_path / "data" / "secret.jpg"
    secret.write_bytes(_jpeg(_photo((0, 0, 0), 99)))
    (images / "link.jpg").symlink_to(secret)
    (images / "inside_link.jpg").symlink_to(images / "p0.jpg")
    items = _write_csv(
        tmp_path / "items.csv",
        GOOD_ROWS
        + [
            ("dotdot", "../secret.jpg", "top"),
            ("absolute", str(secret), "top"),
            ("symlink", "link.jpg", "top"),
            ("inside", "inside_link.jpg", "top"),
        ],
    )
    products, skipped = read_products(items, images, columns=ColumnMap())
    assert {p.id for p in products} == {r[0] for r in GOOD_ROWS} | {"inside"}
    assert [s.id for s in skipped] == ["dotdot", "absolute", "symlink"]
    assert all("not inside the images folder" in s.reason for s in skipped)

    out = tmp_path / "catalog"
    manifest = build_catalog(items, images, out, embedder)
    assert manifest.total == 7
    report = json.loads((out / "build_report.json").read_text())
    assert [(r["id"], r["line"]) for r in report["skipped_rows"]] == [("dotdot", 8), ("absolute", 9), ("symlink", 10)]
    assert report["unreadable_images"] == []


# Item 2: category names become file names, so they are validated.


def test_unsafe_category_names_are_skipped_and_nothing_is_written_outside_the_catalog(tmp_path, embedder):
    images = _images(tmp_path / "data")
    items = _write_csv(
        tmp_path / "items.csv",
        [
            ("a", "p0.jpg", "../../PWNED"),
            ("b", "p1.jpg", "top/shirts"),
            ("c", "p2.jpg", "Big Tops"),
            ("d", "p3.jpg", "bottom"),
            ("e", "p4.jpg", "café"),
        ],
    )
    products, skipped = read_products(items, images, columns=ColumnMap())
    assert [(p.id, p.category) for p in products] == [("c", "big_tops"), ("d", "bottom")]
    assert [s.id for s in skipped] == ["a", "b", "e"]
    assert "'../../PWNED' is not a safe name" in skipped[0].reason
    out = tmp_path / "deep" / "catalog"
    manifest = build_catalog(items, images, out, embedder)
    assert sorted(manifest.counts) == ["big_tops", "bottom"]
    assert sorted(p.name for p in (out / "shards").iterdir()) == ["big_tops.usearch", "bottom.usearch"]
    assert not list(tmp_path.rglob("PWNED*")) and not list(tmp_path.rglob("shirts*"))
    assert len(json.loads((out / "build_report.json").read_text())["skipped_rows"]) == 3


# Item 3: special files are refused before they are opened; reads are bounded.


@pytest.fixture
def alarm():
    def hung(signum, frame):
        raise TimeoutError("read_image hung")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(10)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def test_a_fifo_a_device_and_a_folder_are_refused_without_hanging(tmp_path, alarm):
    fifo = tmp_path / "photo.jpg"
    os.mkfifo(fifo)
    zero = tmp_path / "zero.jpg"
    zero.symlink_to("/dev/zero")
    started = time.perf_counter()
    with pytest.raises(ImageError, match="not a regular file"):
        read_image(fifo)
    with pytest.raises(ImageError, match="not a regular file"):
        read_image(zero)
    with pytest.raises(ImageError, match="folder"):
        read_image(tmp_path)
    assert time.perf_counter() - started < 2


def test_the_size_limit_counts_the_bytes_read(tmp_path):
    big = tmp_path / "big.jpg"
    big.write_bytes(_jpeg(_photo((10, 10, 10), 0)) + b"\0" * 5000)
    with pytest.raises(ImageTooLargeError, match="limit"):
        read_image(big, max_bytes=4000)
    assert read_image(big).shape == (64, 48, 3)


def test_the_builder_lists_a_fifo_row_as_unreadable(tmp_path, embedder, alarm):
    images = _images(tmp_path / "data", count=2)
    os.mkfifo(images / "fifo.jpg")
    (images / "zero.jpg").symlink_to("/dev/zero")  # outside the folder: skipped before any read
    items = _write_csv(
        tmp_path / "items.csv", [("a", "p0.jpg", "top"), ("f", "fifo.jpg", "top"), ("z", "zero.jpg", "top")]
    )
    out = tmp_path / "catalog"
    assert build_catalog(items, images, out, embedder).total == 1
    report = json.loads((out / "build_report.json").read_text())
    assert [r["id"] for r in report["unreadable_images"]] == ["f"]
    assert [r["id"] for r in report["skipped_rows"]] == ["z"]


# Item 4: data after a JPEG's end marker (motion photos) is accepted.


def test_a_jpeg_with_trailing_data_decodes_and_a_cut_one_still_fails():
    image = _photo((200, 30, 30), 1)
    jpeg = _jpeg(image)
    for trailer in (b"\0" * 1023, b"\xff\xd8\xff\xe1" + os.urandom(4000), b"ftypmp42" * 500):
        assert decode_image(jpeg + trailer).shape == image.shape
    with pytest.raises(ImageError, match="truncated"):
        decode_image(jpeg[: len(jpeg) // 2])
    with pytest.raises(ImageError, match="truncated"):
        decode_image(jpeg[:-2] + b"\0" * 2000)


# Item 6: catalog integrity.


def test_catalog_json_records_every_file_and_a_clean_catalog_verifies(catalog, capsys):
    manifest = read_catalog_manifest(catalog)
    assert sorted(manifest.files) == ["products.jsonl", "shards/bottom.usearch", "shards/top.usearch"]
    for name, record in manifest.files.items():
        assert record["size"] == (catalog / name).stat().st_size and len(record["sha256"]) == 64
    assert manifest.colour  # the colour section is kept
    assert all("colour" in row for row in read_products_file(catalog))
    with Catalog(catalog) as opened:
        assert opened.manifest.total == 6
    assert main(["catalog", "verify", "--catalog", str(catalog)]) == 0
    assert "ok, 3 files" in capsys.readouterr().out


def _flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


def test_a_flipped_byte_in_a_shard_is_found_at_open_unless_trusted(catalog, capsys):
    shard = catalog / "shards" / "top.usearch"
    _flip(shard, shard.stat().st_size - 10)
    with pytest.raises(CatalogIntegrityError, match=r"top\.usearch: sha256 differs.*rebuild"):
        Catalog(catalog)
    with Catalog(catalog, trust=True):  # same size: only the hash would tell
        pass
    assert main(["catalog", "verify", "--catalog", str(catalog)]) == 2
    assert "top.usearch: sha256 differs" in capsys.readouterr().err


def test_trust_on_the_command_line_skips_the_hash_but_not_the_size_check(catalog, catalog_source, capsys):
    from edge_bml.cli.look_command import options_from_args
    from edge_bml.cli.main import build_parser

    photo = str(catalog_source[1] / "p1.jpg")
    shard = catalog / "shards" / "top.usearch"
    _flip(shard, shard.stat().st_size - 10)
    search = ["search", photo, "--catalog", str(catalog), "--json", "--threads", "1"]
    assert main(search) == 2
    assert "top.usearch: sha256 differs" in capsys.readouterr().err
    assert main(search + ["--trust"]) == 0
    assert len(json.loads(capsys.readouterr().out)["matches"]) == 6
    look = ["look", photo, "--catalog", str(catalog), "--json", "--threads", "1"]
    assert main(look) == 2
    assert "top.usearch: sha256 differs" in capsys.readouterr().err
    assert main(look + ["--trust"]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["file"] == photo
    assert options_from_args(build_parser().parse_args(["serve", "--catalog", str(catalog), "--trust"])).trust
    with shard.open("ab") as handle:  # one byte longer: the size check still refuses it
        handle.write(b"\0")
    assert main(search + ["--trust"]) == 2
    assert "top.usearch: " in (err := capsys.readouterr().err) and "bytes, catalog.json records" in err


def test_a_shard_copied_over_another_is_found_even_when_trusted(catalog):
    shutil.copy(catalog / "shards" / "top.usearch", catalog / "shards" / "bottom.usearch")
    with pytest.raises(CatalogIntegrityError, match="bottom.usearch"):
        Catalog(catalog)
    with pytest.raises(CatalogIntegrityError, match="bottom.usearch"):  # same count: size equal, hash differs
        Catalog(catalog, trust=False)


def test_shifted_product_keys_are_found(catalog):
    path = catalog / "products.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    path.write_text("".join(json.dumps({**row, "key": row["key"] + 1}) + "\n" for row in rows))
    with pytest.raises(CatalogIntegrityError, match="products.jsonl"):
        Catalog(catalog)


def test_a_category_dropped_from_counts_is_found_with_or_without_file_records(catalog):
    path = catalog / "catalog.json"
    data = json.loads(path.read_text())
    del data["counts"]["top"]
    path.write_text(json.dumps(data))
    with pytest.raises(CatalogIntegrityError, match=r"\['top'\] are not in catalog.json's counts"):
        Catalog(catalog, trust=True)
    del data["files"]
    path.write_text(json.dumps(data))
    with pytest.raises(CatalogIntegrityError, match="counts"):
        Catalog(catalog, trust=True)


def test_a_catalog_json_without_file_records_is_refused_not_left_unchecked(catalog):
    path = catalog / "catalog.json"
    data = json.loads(path.read_text())
    del data["files"]
    path.write_text(json.dumps(data))
    with pytest.raises(CatalogIntegrityError, match="catalog.json records no file sizes and sha256"):
        Catalog(catalog)


@pytest.mark.parametrize(("field", "value"), [("dtype", "f16"), ("dims", 8)])
def test_a_catalog_json_whose_dtype_or_dims_differ_from_the_shards_is_refused(catalog, field, value):
    path = catalog / "catalog.json"
    data = json.loads(path.read_text())
    dims = data["dims"]
    data[field] = value
    path.write_text(json.dumps(data))
    with pytest.raises(CatalogIntegrityError, match="the shard stores") as refused:
        Catalog(catalog)
    assert f"stores {dims}-d i8 cos vectors" in str(refused.value)


def test_add_and_remove_keep_the_file_records_right(catalog, tmp_path, embedder):
    images = _images(tmp_path / "more")
    items = _write_csv(tmp_path / "more.csv", [("n1", "p1.jpg", "top"), ("n2", "p2.jpg", "dress")])
    add_products(catalog, items, images, embedder)
    with Catalog(catalog) as opened:
        assert opened.manifest.counts == {"bottom": 3, "dress": 1, "top": 4}
    remove_products(catalog, ["n2", "p0"])
    manifest = read_catalog_manifest(catalog)
    assert "shards/dress.usearch" not in manifest.files
    assert main(["catalog", "verify", "--catalog", str(catalog)]) == 0


# Item 8: input files.


def test_a_latin1_table_is_a_clear_error_naming_the_line(tmp_path):
    images = _images(tmp_path / "data", count=2)
    items = _write_csv(tmp_path / "items.csv", [("a", "p0.jpg", "top"), ("Café", "p1.jpg", "top")], encoding="latin-1")
    with pytest.raises(CatalogError, match=r"items\.csv line 3: not UTF-8 text.*0xe9"):
        read_products(items, images, columns=ColumnMap())


def test_a_utf8_bom_is_ignored(tmp_path):
    images = _images(tmp_path / "data", count=2)
    items = _write_csv(tmp_path / "items.csv", [("Café", "p0.jpg", "top")], encoding="utf-8-sig")
    assert items.read_bytes().startswith(b"\xef\xbb\xbf")
    products, skipped = read_products(items, images, columns=ColumnMap())
    assert [p.id for p in products] == ["Café"] and skipped == []


def test_a_catalog_json_list_and_rows_without_key_are_catalog_errors(catalog):
    manifest = catalog / "catalog.json"
    original = manifest.read_text()
    manifest.write_text("[1, 2]")
    with pytest.raises(CatalogError, match="JSON object is expected"):
        read_catalog_manifest(catalog)
    manifest.write_text(json.dumps({**json.loads(original), "counts": [1]}))
    with pytest.raises(CatalogError, match="damaged catalog manifest"):
        read_catalog_manifest(catalog)
    manifest.write_text(original)
    products = catalog / "products.jsonl"
    lines = products.read_text().splitlines()
    row = json.loads(lines[1])
    del row["key"]
    products.write_text("\n".join([lines[0], json.dumps(row), *lines[2:]]) + "\n")
    with pytest.raises(CatalogIntegrityError, match="products.jsonl"):  # caught by its size first
        Catalog(catalog, trust=True)
    with pytest.raises(CatalogError, match="line 2: a product row needs key"):
        read_products_file(catalog)
    products.write_text("[1]\n")
    with pytest.raises(CatalogError, match="line 1"):
        read_products_file(catalog)


# Item 9: cleaning up.


def test_a_half_written_cache_chunk_does_not_break_resume(tmp_path):
    target = tmp_path / "catalog"
    cache = EmbeddingCache(target, {"k": 1}, resume=False)
    cache.save_chunk(0, {"a": np.ones(4, np.float32)}, {"b": "broken"}, {"a": np.zeros(3, np.float32)})
    (cache.folder / "chunk_000001.tmp.npz").write_bytes(b"PK\x03\x04 half written")
    resumed = EmbeddingCache(target, {"k": 1}, resume=True)
    vectors, failures, _ = resumed.load()
    assert list(vectors) == ["a"] and failures == {"b": "broken"}
    assert resumed.chunk_count() == 1
    assert not (cache.folder / "chunk_000001.tmp.npz").exists()


def test_staging_folders_of_killed_builds_are_removed_and_live_ones_kept(tmp_path):
    target = tmp_path / "catalog"
    stale = tmp_path / ".catalog.abc123.partial"
    (stale / "shards").mkdir(parents=True)
    old = time.time() - 60
    os.utime(stale, (old, old))
    other = tmp_path / ".other.abc.partial"
    other.mkdir()
    os.utime(other, (old, old))
    with staged_directory(target) as staging:
        assert not stale.exists() and other.exists()
        os.utime(staging, (old, old))
        assert remove_stale_staging(target) == []  # locked by this build
        (staging / "x").write_text("done")
    assert (target / "x").read_text() == "done"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".catalog")] == []


def test_a_relative_images_folder_is_stored_resolved(tmp_path, embedder, monkeypatch):
    _images(tmp_path / "data")
    _write_csv(tmp_path / "items.csv", GOOD_ROWS[:2])
    monkeypatch.chdir(tmp_path)
    manifest = build_catalog("items.csv", "data/images", tmp_path / "catalog", embedder)
    assert manifest.source["images_dir"] == str((tmp_path / "data" / "images").resolve())
    assert Path(manifest.source["items_csv"]).is_absolute()
    assert read_catalog_manifest(tmp_path / "catalog").source == manifest.source


# Item 5: memory per request.


def test_a_large_rgba_png_decodes_near_one_copy_of_its_pixels(tmp_path):
    import subprocess
    import sys

    side = 4000  # 16 MP RGBA: 64 MB of pixels; decoded twice and composited in float32 it took about 600 MB
    image = np.zeros((side, side, 4), np.uint8)
    image[..., 0] = np.linspace(0, 255, side, dtype=np.uint8)[None]
    image[..., 3] = 255
    image[: side // 2, :, 3] = 128
    path = tmp_path / "big.png"
    cv2.imwrite(str(path), image)
    script = (  # peak RSS reset just before decoding (Linux clear_refs), so imports do not hide the decode's peak
        "import sys; from edge_bml.image_io import read_image\n"
        "def kb(field): return int(next(l for l in open('/proc/self/status') if l.startswith(field)).split()[1])\n"
        "open('/proc/self/clear_refs', 'w').write('5'); before = kb('VmRSS')\n"
        "rgb = read_image(sys.argv[1])\n"
        "print(rgb.shape, rgb[0, 0].tolist(), rgb[-1, 0].tolist(), (kb('VmHWM') - before) // 1024)"
    )
    out = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True, check=True).stdout
    added_mb = int(out.split()[-1])
    assert out.startswith("(4000, 4000, 3) [127, 127, 127] [0, 0, 0]"), out  # half-clear black on white; black
    assert added_mb < 64 * 3.5, f"decoding a 64 MB RGBA image added {added_mb} MB"


# Item 10: folders of photos.


def test_look_takes_a_folder_and_refuses_an_empty_one(tmp_path, data_dir, capsys):
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ("0061.jpg", "0054.jpg"):
        shutil.copy(data_dir / "ccp" / "photos" / name, photos / name)
    (photos / "notes.txt").write_text("not a photo")
    assert main(["look", str(photos), "--json"]) == 0
    looks = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [Path(look["file"]).name for look in looks] == ["0054.jpg", "0061.jpg"]
    (tmp_path / "empty").mkdir()
    assert main(["look", str(tmp_path / "empty")]) == 2
    assert "no photos" in capsys.readouterr().err


# Kill and resume.


@pytest.mark.slow
def test_a_build_killed_midway_keeps_the_old_catalog_and_resumes_to_a_clean_build(tmp_path, catalog_source):
    import subprocess
    import sys

    images = tmp_path / "images"
    images.mkdir()
    rows = []
    for n in range(700):
        (images / f"p{n}.jpg").write_bytes(_jpeg(_photo(COLOURS[n % len(COLOURS)], n)))
        rows.append((f"p{n}", f"p{n}.jpg", ("top", "bottom", "hat")[n % 3]))
    items = _write_csv(tmp_path / "items.csv", rows)
    out = tmp_path / "catalog"
    old_items, old_images = catalog_source
    build = [sys.executable, "-m", "edge_bml.cli.main", "catalog", "build", "--images"]
    subprocess.run(build + [str(old_images), "--items", str(old_items), "--out", str(out)], check=True, timeout=300)
    old = read_catalog_manifest(out)
    cache = tmp_path / ".catalog.embeddings"
    killed = subprocess.Popen(
        build + [str(images), "--items", str(items), "--out", str(out)], stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 240
    while not list(cache.glob("chunk_000000.npz")) and killed.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    assert list(cache.glob("chunk_000000.npz")), "the build ended before its first chunk was written"
    assert read_catalog_manifest(out) == old  # the old catalog is untouched
    with Catalog(out) as still_old:
        assert still_old.manifest.total == 6
    subprocess.run(build + [str(images), "--items", str(items), "--out", str(out), "--resume"], check=True, timeout=300)
    clean = tmp_path / "clean"
    subprocess.run(build + [str(images), "--items", str(items), "--out", str(clean)], check=True, timeout=300)
    resumed_rows, clean_rows = read_products_file(out), read_products_file(clean)
    assert sorted((r["id"], r["category"]) for r in resumed_rows) == sorted(
        (r["id"], r["category"]) for r in clean_rows
    )
    assert (
        read_catalog_manifest(out).counts
        == read_catalog_manifest(clean).counts
        == {"top": 234, "bottom": 233, "hat": 233}
    )
    rng = np.random.default_rng(0)
    with Catalog(out) as resumed, Catalog(clean) as fresh:
        for query in rng.normal(size=(5, resumed.manifest.dims)).astype(np.float32):
            for category in ("top", "hat"):
                ours = [m.id for m in resumed.search(query, category=category, k=10, colour_weight=0)]
                theirs = [m.id for m in fresh.search(query, category=category, k=10, colour_weight=0)]
                assert len(set(ours) & set(theirs)) >= 9


# Item 6: a cached verification stamp spares hashing at the next open, never a changed file.


def test_a_verification_stamp_skips_hashing_until_a_file_changes(catalog, monkeypatch):
    import edge_bml.catalog.catalog_manifest as catalog_manifest

    hashed = []
    real = catalog_manifest.sha256_file
    monkeypatch.setattr(catalog_manifest, "sha256_file", lambda path: hashed.append(path) or real(path))
    Catalog(catalog).close()
    first = len(hashed)
    assert first == len(read_catalog_manifest(catalog).files)
    Catalog(catalog).close()
    assert len(hashed) == first  # the stamp matched: nothing hashed
    shard = catalog / "shards" / "top.usearch"
    status = shard.stat()
    _flip(shard, status.st_size - 10)
    os.utime(shard, ns=(status.st_atime_ns, status.st_mtime_ns))  # size and mtime as before; ctime moves
    with pytest.raises(CatalogIntegrityError, match=r"top\.usearch: sha256 differs"):
        Catalog(catalog)
    assert main(["catalog", "verify", "--catalog", str(catalog)]) == 2


def test_catalog_image_path_stays_in_the_image_folder(catalog, catalog_source):
    _, images = catalog_source
    with Catalog(catalog) as opened:
        row = next(iter(opened.products.values()))
        assert opened.image_path(row) == (images / row["file"]).resolve()
        assert opened.image_path({**row, "file": "../items.csv"}) is None
        assert opened.image_path({**row, "file": "/etc/passwd"}) is None
        assert opened.image_path({**row, "file": ""}) is None
