"""Catalog build, search, edits and every failure path, with a real (small) embedder and real photos."""

from __future__ import annotations

import json

import numpy as np
import pytest

from edge_bml.catalog.build import build_catalog
from edge_bml.catalog.catalog_manifest import read_catalog_manifest
from edge_bml.catalog.edit import add_products, remove_products
from edge_bml.catalog.products import ColumnMap
from edge_bml.catalog.search import Catalog
from edge_bml.errors import (
    CatalogCategoryError,
    CatalogColumnError,
    CatalogEmbedderMismatchError,
    CatalogError,
)
from edge_bml.image_io import read_image
from edge_bml.manifest import load_manifest
from edge_bml.stages.embedder import ArticleEmbedder
from tests.embedder_models import clothing_rows, export_small_backbone, write_items_csv


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    first = ArticleEmbedder(load_manifest(export_small_backbone(root / "small64", 64)), threads=1)
    second = ArticleEmbedder(load_manifest(export_small_backbone(root / "small96", 96)), threads=1)
    yield first, second
    first.close()
    second.close()


@pytest.fixture(scope="module")
def table(tmp_path_factory, data_dir):
    root = tmp_path_factory.mktemp("table")
    rows = clothing_rows(data_dir, per_category=4)
    garbage = root / "broken.jpg"
    garbage.write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg")
    extra = [
        {"id": "missing-photo", "file": "images/not-there.jpg", "label": "T-Shirt", "category": "top"},
        {"id": "broken-photo", "file": "LICENSE", "label": "T-Shirt", "category": "top"},
        {"id": "no-category", "file": rows[0]["file"], "label": "T-Shirt", "category": ""},
        {"id": "outside-photo", "file": str(garbage), "label": "T-Shirt", "category": "top"},
    ]
    path = write_items_csv(root / "items.csv", rows + extra, ("id", "file", "label", "category"))
    return path, rows


@pytest.fixture(scope="module")
def built(tmp_path_factory, models, table, data_dir):
    out = tmp_path_factory.mktemp("catalogs") / "small"
    manifest = build_catalog(table[0], data_dir / "clothing", out, models[0], columns=ColumnMap(title="label"), chunk=8)
    return out, manifest


def test_build_writes_shards_manifest_and_a_report_of_bad_rows(built, table, models):
    out, manifest = built
    rows = table[1]
    assert manifest.total == len(rows)
    assert set(manifest.counts) == {r["category"] for r in rows}
    assert manifest.dims == 1280 and manifest.dtype == "i8" and manifest.metric == "cos"
    assert manifest.embedder_sha256 == models[0].manifest.sha256["embedder.onnx"]
    assert manifest.metrics["recall_at_10_vs_exact_f32"] >= 0.98
    report = json.loads((out / "build_report.json").read_text())
    assert sorted(r["id"] for r in report["unreadable_images"]) == ["broken-photo", "missing-photo"]
    skipped = report["skipped_rows"]
    assert skipped[0] == {"line": len(rows) + 4, "id": "no-category", "reason": "empty category"}
    assert skipped[1]["id"] == "outside-photo" and "not inside the images folder" in skipped[1]["reason"]
    assert len(skipped) == 2
    assert (out / "shards" / "top.usearch").is_file()
    assert read_catalog_manifest(out) == manifest


def test_search_finds_an_item_by_its_own_photo_and_filters_by_category(built, models, table, data_dir):
    out, _ = built
    row = table[1][5]
    vector = models[0].embed([read_image(data_dir / "clothing" / row["file"])])[0]
    with Catalog(out, embedder_sha256=models[0].manifest.sha256["embedder.onnx"]) as catalog:
        matches = catalog.search(vector, k=5)
        assert matches[0].id == row["id"] and matches[0].score > 0.99
        assert matches[0].title == row["label"] and matches[0].attributes == {"label": row["label"]}
        assert [m.score for m in matches] == sorted((m.score for m in matches), reverse=True)
        other = next(c for c in catalog.categories if c != row["category"])
        assert {m.category for m in catalog.search(vector, category=other, k=3)} == {other}


def test_an_empty_category_is_a_typed_error(built, models):
    out, _ = built
    with Catalog(out) as catalog, pytest.raises(CatalogCategoryError, match="'bag' has no products"):
        catalog.search(np.ones(1280, np.float32), category="bag")


def test_a_missing_column_names_the_columns_there_are(tmp_path, models, table, data_dir):
    with pytest.raises(CatalogColumnError, match=r"no column\(s\) \['title'\]"):
        build_catalog(table[0], data_dir / "clothing", tmp_path / "c", models[0], columns=ColumnMap(title="title"))
    assert not (tmp_path / "c").exists()


def test_a_catalog_from_another_embedder_is_refused(built, models):
    out, _ = built
    other_sha = models[1].manifest.sha256["embedder.onnx"]
    with pytest.raises(CatalogEmbedderMismatchError, match="built with embedder small64"):
        Catalog(out, embedder_sha256=other_sha)
    with Catalog(out) as catalog, pytest.raises(CatalogEmbedderMismatchError):
        catalog.check_embedder(models[1])


def test_an_interrupted_build_keeps_the_old_catalog_and_resume_reuses_the_work(tmp_path, models, data_dir):
    rows = clothing_rows(data_dir, per_category=3)
    old_csv = write_items_csv(tmp_path / "old.csv", rows[:6], ("id", "file", "category"))
    new_csv = write_items_csv(tmp_path / "new.csv", rows, ("id", "file", "category"))
    out = tmp_path / "catalog"
    old = build_catalog(old_csv, data_dir / "clothing", out, models[0], chunk=8)

    def stop_after_first_chunk(done: int, total: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        build_catalog(new_csv, data_dir / "clothing", out, models[0], chunk=8, on_progress=stop_after_first_chunk)
    assert read_catalog_manifest(out) == old
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".partial")] == []
    calls = []
    resumed = build_catalog(
        new_csv, data_dir / "clothing", out, models[0], chunk=8, resume=True, on_progress=lambda d, t: calls.append(d)
    )
    assert resumed.total == len(rows)
    assert calls[0] == 16  # the first chunk of 8 came from the interrupted run's cache
    assert not (tmp_path / ".catalog.embeddings").exists()


def test_add_and_remove_products(tmp_path, models, data_dir):
    rows = clothing_rows(data_dir, per_category=2)
    base = write_items_csv(tmp_path / "base.csv", rows[:8], ("id", "file", "category"))
    more = write_items_csv(tmp_path / "more.csv", rows[8:], ("id", "file", "category"))
    out = tmp_path / "catalog"
    build_catalog(base, data_dir / "clothing", out, models[0])
    added, failures = add_products(out, more, data_dir / "clothing", models[0])
    assert added.total == len(rows) and failures == {}
    newcomer = rows[-1]
    vector = models[0].embed([read_image(data_dir / "clothing" / newcomer["file"])])[0]
    with Catalog(out) as catalog:
        assert catalog.search(vector, k=1)[0].id == newcomer["id"]
    with pytest.raises(CatalogError, match="already in"):
        add_products(out, more, data_dir / "clothing", models[0])
    with pytest.raises(CatalogEmbedderMismatchError):
        add_products(out, more, data_dir / "clothing", models[1])
    removed = remove_products(out, [newcomer["id"]])
    assert removed.total == len(rows) - 1
    with Catalog(out) as catalog:
        assert newcomer["id"] not in catalog.search(vector, k=len(rows)).ids
    with pytest.raises(CatalogError, match="not in"):
        remove_products(out, ["no-such-id"])
