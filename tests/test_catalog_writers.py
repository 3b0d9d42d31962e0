"""Catalog writers never destroy what they do not own and never break a catalog by running at once.

``catalog build --out`` refuses a folder that is not a catalog (#26 item 1); ``build``, ``add`` and
``remove`` of one catalog take turns under its writer lock and each re-reads the catalog under it
(#26 item 2); a swap is one atomic exchange, and a swap cut in half is repaired (#26 item 10).
"""

from __future__ import annotations

import multiprocessing
import random
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge_bml.catalog.build import build_catalog
from edge_bml.catalog.catalog_manifest import read_catalog_manifest, read_products_file, verify_catalog_files
from edge_bml.catalog.search import Catalog
from edge_bml.catalog.staging import catalog_writer, exchange, lock_path
from edge_bml.cli.main import main
from edge_bml.errors import CatalogError, CatalogIntegrityError, CatalogOutputError
from edge_bml.model_registry import select_variant
from edge_bml.stages.embedder import ArticleEmbedder

CATEGORIES = ("top", "pants", "hat")


def _photo(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    image = np.full((64, 48, 3), 235, np.uint8)
    image[8:56, 8:40] = rng.integers(20, 230, 3)
    return image


def _images(folder: Path, ids: list[str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for n, product_id in enumerate(ids):
        cv2.imwrite(str(folder / f"{product_id}.jpg"), _photo(hash(product_id) % 10_000 + n))
    return folder


def _table(path: Path, ids: list[str]) -> Path:
    rows = [f"{i},{i}.jpg,{CATEGORIES[int(i.split('_')[-1]) % 3]}" for i in ids]
    path.write_text("id,file,category\n" + "\n".join(rows) + "\n")
    return path


@pytest.fixture
def source(tmp_path):
    ids = [f"base_{n}" for n in range(6)]
    return _table(tmp_path / "items.csv", ids), _images(tmp_path / "images", ids)


def _build_cli(source, out: Path, *extra: str) -> int:
    items, images = source
    return main(["catalog", "build", "--images", str(images), "--items", str(items), "--out", str(out), *extra])


# Item 1: --out never swallows what is not a catalog.


def test_build_refuses_a_folder_that_holds_other_files_and_keeps_them(tmp_path, source, capsys):
    out = tmp_path / "v"
    (out / "sub").mkdir(parents=True)
    (out / "t.txt").write_text("thesis")
    assert _build_cli(source, out) == 2
    assert capsys.readouterr().err.strip() == (
        f"edge-bml: error: {out} holds files but no catalog.json, so it is not a catalog; "
        "choose another --out, or add --overwrite to replace it"
    )
    assert (out / "t.txt").read_text() == "thesis" and (out / "sub").is_dir()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["images", "items.csv", "v"]  # no lock, no cache


def test_overwrite_replaces_such_a_folder_when_asked(tmp_path, source):
    out = tmp_path / "v"
    out.mkdir()
    (out / "t.txt").write_text("thesis")
    assert _build_cli(source, out, "--overwrite") == 0
    assert not (out / "t.txt").exists()
    assert read_catalog_manifest(out).total == 6


def test_build_refuses_a_file_and_its_own_table_even_with_overwrite(tmp_path, source, capsys):
    items, _ = source
    before = items.read_bytes()
    assert _build_cli(source, items, "--overwrite") == 2
    assert "would replace the build's own input" in capsys.readouterr().err
    assert items.read_bytes() == before
    notes = tmp_path / "notes.txt"
    notes.write_text("mine")
    assert _build_cli(source, notes) == 2
    assert (
        capsys.readouterr()
        .err.strip()
        .endswith("is a file, not a catalog folder; choose another --out, or add --overwrite to replace it")
    )
    assert notes.read_text() == "mine"


def test_build_into_an_empty_folder_or_over_a_catalog_needs_no_flag(tmp_path, source):
    out = tmp_path / "empty"
    out.mkdir()
    assert _build_cli(source, out) == 0
    assert _build_cli(source, out) == 0  # a rebuild replaces the catalog
    assert read_catalog_manifest(out).total == 6
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty", "images", "items.csv"]  # nothing left beside


def test_the_library_refuses_before_any_embedding(tmp_path, source):
    class NeverCalled:
        manifest = property(lambda self: pytest.fail("the embedder was touched"))

    out = tmp_path / "v"
    out.mkdir()
    (out / "t.txt").write_text("thesis")
    with pytest.raises(CatalogOutputError):
        build_catalog(*source, out, NeverCalled())


# Item 10: the swap is atomic, and a two-rename swap cut in half is put back.


def test_exchange_swaps_two_folders_in_one_step(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "which").write_text("a")
    (b / "which").write_text("b")
    assert exchange(a, b) is True
    assert (a / "which").read_text() == "b" and (b / "which").read_text() == "a"


def test_a_catalog_left_aside_by_a_cut_swap_is_restored_by_the_next_writer(tmp_path, source, embedder):
    out = tmp_path / "catalog"
    build_catalog(*source, out, embedder)
    out.rename(tmp_path / ".catalog.old")  # killed between "catalog -> .catalog.old" and "staging -> catalog"
    with catalog_writer(out):
        assert read_catalog_manifest(out).total == 6
    assert not (tmp_path / ".catalog.old").exists()


# Item 2: writers take turns, and each reads the catalog under the lock.


def _worker_init() -> None:
    global _EMBEDDER
    _EMBEDDER = ArticleEmbedder(select_variant("embedder", precision="fp32"), threads=1)


def _worker_run(job: tuple) -> str:
    import time

    from edge_bml.catalog.edit import add_products, remove_products

    kind, delay, catalog, args = job
    time.sleep(delay)
    try:
        if kind == "add":
            add_products(catalog, args[0], args[1], _EMBEDDER)
        elif kind == "remove":
            remove_products(catalog, args)
        else:
            build_catalog(args[0], args[1], catalog, _EMBEDDER)
    except CatalogError as error:
        return f"refused: {error}"
    return "ok"


@pytest.mark.slow
def test_twenty_random_interleavings_of_add_remove_and_build_leave_a_sound_catalog(tmp_path, source, embedder):
    out = tmp_path / "catalog"
    items, images = source
    build_catalog(items, images, out, embedder)
    rng = random.Random(26)
    serial = 0
    context = multiprocessing.get_context("spawn")
    with context.Pool(3, initializer=_worker_init) as pool:
        for round_number in range(20):
            present = {row["id"] for row in read_products_file(out)}
            jobs, added, removed = [], set(), set()
            kinds = rng.choice([("add", "add", "remove"), ("add", "remove", "remove"), ("add", "remove", "build")])
            for kind in kinds:
                if kind == "add":
                    ids = [f"r{round_number}x{serial + n}_{n}" for n in range(3)]
                    serial += 3
                    table = _table(tmp_path / f"add_{serial}.csv", ids)
                    _images(images, ids)
                    jobs.append(("add", rng.uniform(0, 0.05), str(out), (str(table), str(images))))
                    added |= set(ids)
                elif kind == "remove":
                    pick = sorted(present - removed)[:1] + sorted(present - removed)[-1:]
                    pick = sorted(set(pick) - removed)
                    removed |= set(pick)
                    jobs.append(("remove", rng.uniform(0, 0.05), str(out), pick))
                else:
                    jobs.append(("build", rng.uniform(0, 0.05), str(out), (str(items), str(images))))
            outcomes = pool.map(_worker_run, jobs)
            manifest = read_catalog_manifest(out)
            verify_catalog_files(out, manifest, hashes=True)
            with Catalog(out, trust=False, use_stamp=False) as opened:
                assert opened.manifest.total == len(read_products_file(out))
            now = {row["id"] for row in read_products_file(out)}
            assert _serial_orders(present, jobs, outcomes, now), (round_number, kinds, outcomes)


def _serial_orders(before: set[str], jobs: list[tuple], outcomes: list[str], after: set[str]) -> list[tuple]:
    """The orders of ``jobs`` that, run one at a time from ``before``, give ``outcomes`` and ``after``."""
    import itertools

    base = {f"base_{n}" for n in range(6)}
    fitting = []
    for order in itertools.permutations(range(len(jobs))):
        ids, expected = set(before), [None] * len(jobs)
        for index in order:
            kind, _, _, args = jobs[index]
            if kind == "add":
                added = {line.split(",")[0] for line in Path(args[0]).read_text().splitlines()[1:]}
                expected[index] = "ok" if not added & ids else "refused"
                ids |= added if expected[index] == "ok" else set()
            elif kind == "remove":
                expected[index] = "ok" if set(args) <= ids else "refused"
                ids -= set(args) if expected[index] == "ok" else set()
            else:
                ids, expected[index] = set(base), "ok"
        if ids == after and expected == [o.split(":")[0] for o in outcomes]:
            fitting.append(order)
    return fitting


def test_an_edit_refuses_a_damaged_catalog_instead_of_recording_its_hashes(tmp_path, source, embedder):
    out = tmp_path / "catalog"
    build_catalog(*source, out, embedder)
    shard = out / "shards" / "top.usearch"
    data = bytearray(shard.read_bytes())
    data[-1] ^= 0xFF
    shard.write_bytes(bytes(data))
    from edge_bml.catalog.edit import remove_products

    with pytest.raises(CatalogIntegrityError, match="sha256 differs"):
        remove_products(out, ["base_1"])
    assert read_catalog_manifest(out).total == 6
    assert not lock_path(out).exists()
