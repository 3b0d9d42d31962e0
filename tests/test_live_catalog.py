"""A served catalog that a writer swaps is noticed and served within seconds; a bad one is refused and the
old one kept; a small catalog is read into memory, so damage to its files on disk cannot crash a reader
(#26 item 7)."""

from __future__ import annotations

import csv
import logging
import os
import time

import numpy as np
import pytest

from edge_bml.catalog.search import Catalog
from edge_bml.server.catalog_reload import CatalogWatcher, catalog_identity
from tests.tiny_catalog import tiny_catalog


def _wait(condition, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_a_swapped_catalog_is_opened_and_handed_over(tmp_path):
    folder = tiny_catalog(tmp_path / "cat", 12)
    served = []
    watcher = CatalogWatcher(folder, identity=catalog_identity(folder), on_new=served.append, interval_s=0.0)
    watcher.poll()
    assert not _wait(lambda: served, 0.3)  # unchanged: nothing reloaded
    tiny_catalog(folder, 13, seed=1)  # a writer swaps in a new folder
    watcher.poll()
    assert _wait(lambda: served)
    assert served[0].manifest.total == 13 and watcher.reloads == 1


def test_a_catalog_that_cannot_be_opened_keeps_the_old_one_with_one_log_line(tmp_path, caplog):
    folder = tiny_catalog(tmp_path / "cat", 12)
    served = []
    watcher = CatalogWatcher(folder, identity=catalog_identity(folder), on_new=served.append, interval_s=0.0)
    (folder / "products.jsonl").write_text("")  # damaged: the swap would serve a catalog without products
    os.utime(folder / "catalog.json", ns=(1, 1))
    with caplog.at_level(logging.WARNING, logger="edge_bml.server"):
        for _ in range(20):
            watcher.poll()
            time.sleep(0.02)
        assert _wait(lambda: caplog.records, 5.0)
        time.sleep(0.2)
    assert served == []
    [record] = caplog.records
    assert "changed but the new one cannot be served" in record.getMessage()
    assert "still serving the one loaded before" in record.getMessage()


def test_a_small_catalog_is_read_into_memory_and_survives_a_truncated_shard(tmp_path):
    folder = tiny_catalog(tmp_path / "cat", 12)
    with Catalog(folder, trust=True) as catalog:
        assert catalog.view is False
        shard = folder / "shards" / "top.usearch"
        with open(shard, "r+b") as handle:  # in place, as no writer of edge_bml does: a mapped reader gets SIGBUS
            handle.truncate(0)
        assert len(catalog.search(np.ones(16, np.float32), k=5).items) == 5


# The server, over a real catalog that `catalog add` edits while it serves.


@pytest.fixture(scope="module")
def served(data_dir, tmp_path_factory):
    pytest.importorskip("uvicorn")
    from edge_bml.pipeline import LookOptions
    from edge_bml.server.app import ServerOptions, create_app, open_pool
    from tests.look_fixtures import build_small_catalog
    from tests.loopback_server import LoopbackServer

    catalog = build_small_catalog(data_dir, tmp_path_factory.mktemp("live") / "small", per_category=2)
    options, limits = LookOptions(catalog=catalog, threads=1), ServerOptions(workers=1, queue_size=2)
    pool = open_pool(options, limits)
    with LoopbackServer(create_app(options, limits, pool=pool)) as server:
        yield server, catalog, pool


def test_the_server_answers_with_a_product_added_while_it_serves(served, data_dir, tmp_path, ccp_val):
    import httpx

    from edge_bml.catalog.catalog_manifest import read_products_file
    from edge_bml.cli.main import main

    server, catalog, pool = served
    opened = pool.any.catalog
    before = httpx.get(f"{server.url}/v1/catalog").json()["total"]
    held = {row["id"] for row in read_products_file(catalog)}
    with open(data_dir / "clothing" / "items.csv", newline="") as handle:
        new = next(row for row in csv.DictReader(handle) if row["id"] not in held and row["category"] == "top")
    items = tmp_path / "more.csv"
    with open(items, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(new))
        writer.writeheader()
        writer.writerow(new)
    add = ["catalog", "add", "--catalog", str(catalog), "--items", str(items), "--images", str(data_dir / "clothing")]
    assert main(add) == 0
    started = time.monotonic()

    def shows_it() -> bool:
        return httpx.get(f"{server.url}/v1/products/{new['id']}/image").status_code == 200

    assert _wait(shows_it, 10.0), "the added product was not served within 10 s"
    seconds = time.monotonic() - started
    assert httpx.get(f"{server.url}/v1/catalog").json()["total"] == before + 1
    assert httpx.get(f"{server.url}/healthz").json()["catalog"]["products"] == before + 1
    photo = ccp_val[0]["path"].read_bytes()
    assert httpx.post(f"{server.url}/v1/look", content=photo, timeout=60).status_code == 200  # on the new catalog
    assert pool.any.catalog.manifest.total == before + 1
    assert opened.shards == {}  # the worker closed the catalog it had opened itself: its old files are let go
    print(f"served the added product {seconds:.1f} s after `catalog add` ended")


def test_every_worker_takes_the_new_catalog_before_its_next_job():
    import asyncio

    from edge_bml.server.pipeline_pool import PipelinePool

    class Pipeline:
        catalog = "opened"

        def use_catalog(self, catalog) -> None:
            self.catalog = catalog

        def close(self) -> None:
            pass

    pool = PipelinePool(Pipeline, workers=3, queue_size=3)
    try:
        pool.replace_catalog("swapped")

        async def looks():
            return await asyncio.gather(*(pool.submit(lambda p: p.catalog, client=str(n)) for n in range(6)))

        assert asyncio.run(looks()) == ["swapped"] * 6
        assert pool.catalog == "swapped"
    finally:
        pool.close()
