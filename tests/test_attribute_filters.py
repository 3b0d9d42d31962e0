"""Attribute filters (--where) on a small real catalog: a retailer-style gender column added to clothing photos."""

from __future__ import annotations

import json

import numpy as np
import pytest

from edge_bml.catalog.attributes import parse_where
from edge_bml.catalog.build import build_catalog
from edge_bml.catalog.filtered_search import FilteredSearch
from edge_bml.catalog.products import ColumnMap
from edge_bml.catalog.search import Catalog
from edge_bml.cli.main import main
from edge_bml.errors import CatalogFilterError
from edge_bml.image_io import read_image
from tests.embedder_models import clothing_rows, write_items_csv

GENDERS = ("Women", "Men", "Unisex")
COLUMNS = ("id", "file", "label", "category", "kids", "gender")


@pytest.fixture(scope="module")
def table(tmp_path_factory, data_dir):
    rows = clothing_rows(data_dir, per_category=6)
    for number, row in enumerate(rows):
        row["gender"] = GENDERS[number % 3]
    path = write_items_csv(tmp_path_factory.mktemp("table") / "items.csv", rows, COLUMNS)
    return path, rows


@pytest.fixture(scope="module")
def built(tmp_path_factory, table, embedder, data_dir):
    out = tmp_path_factory.mktemp("catalogs") / "gendered"
    build_catalog(table[0], data_dir / "clothing", out, embedder, columns=ColumnMap(title="label"))
    return out


@pytest.fixture(scope="module")
def queries(table, embedder, data_dir):
    """Three street-ish queries: product photos of three categories, embedded."""
    rows = [table[1][0], table[1][7], table[1][14]]
    return embedder.embed([read_image(data_dir / "clothing" / row["file"]) for row in rows])


def _expected(catalog, vector, category, k, keep) -> list[tuple[str, float]]:
    """Brute force: every product of the category, ranked, then those that pass ``keep``, top k."""
    everything = catalog.search(vector, category=category, k=catalog.manifest.counts[category], colour_weight=0)
    return [(m.id, m.score) for m in everything if keep(m.attributes)][:k]


def test_every_other_column_is_kept_as_an_attribute(built, table):
    with Catalog(built) as catalog:
        row = next(r for r in catalog.products.values() if r["id"] == table[1][4]["id"])
        source = table[1][4]
        assert row["attributes"] == {"label": source["label"], "kids": source["kids"], "gender": source["gender"]}
        assert row["title"] == source["label"]  # the title's column is an attribute too
        assert catalog.attributes.columns == ["gender", "kids", "label"]
        assert catalog.attributes.values("gender") == {"Women": 16, "Men": 16, "Unisex": 16}


@pytest.mark.parametrize(
    "where, keep",
    [
        ({"gender": ("women",)}, lambda a: a["gender"] == "Women"),
        ({"gender": ("Women", "Unisex")}, lambda a: a["gender"] in ("Women", "Unisex")),
        ({"gender": ("Men",), "kids": ("False",)}, lambda a: a["gender"] == "Men" and a["kids"] == "False"),
    ],
)
@pytest.mark.parametrize("strategy", ["auto", "subset", "overfetch"])
def test_a_filter_returns_the_best_k_of_the_products_that_pass(built, queries, where, keep, strategy):
    with Catalog(built) as catalog:
        catalog._filtered = FilteredSearch(catalog.manifest.dtype, strategy=strategy)
        for vector, category in zip(queries, ("dress", "footwear", "hat"), strict=True):
            expected = _expected(catalog, vector, category, 4, keep)
            found = catalog.search(vector, category=category, k=4, colour_weight=0, where=where)
            assert [m.id for m in found] == [i for i, _ in expected]
            assert [m.score for m in found] == pytest.approx([s for _, s in expected], abs=1e-6)
            assert len(found) == min(4, catalog.passing_count(where, category))


def test_k_products_come_back_whenever_k_pass_also_across_the_catalog(built, queries):
    with Catalog(built) as catalog:
        where = {"gender": ("Men",)}
        assert catalog.passing_count(where) == 16
        for k in (1, 5, 16, 30):
            found = catalog.search(queries[0], k=k, colour_weight=0, where=where)
            assert len(found) == min(k, 16) and {m.attributes["gender"] for m in found} == {"Men"}


def test_a_filter_keeping_everything_changes_nothing(built, queries):
    with Catalog(built) as catalog:
        plain = catalog.search_many(queries, k=10)
        everything = catalog.search_many(queries, k=10, where={"gender": GENDERS})
        assert [m.ids for m in everything] == [m.ids for m in plain]
        for filtered, unfiltered in zip(everything, plain, strict=True):  # the same kernel, to float rounding
            assert [x.score for x in filtered] == pytest.approx([x.score for x in unfiltered], abs=1e-6)


def test_a_catalog_built_before_attributes_filters_on_its_extra_and_title_columns(built, tmp_path, queries):
    import dataclasses
    import shutil

    from edge_bml.catalog.catalog_manifest import (
        file_records,
        read_catalog_manifest,
        read_products_file,
        write_catalog_manifest,
        write_products_file,
    )

    old = tmp_path / "old"
    shutil.copytree(built, old)
    rows = read_products_file(old)
    for row in rows:  # as products.jsonl was written before: the other columns as 'extra', the title's not at all
        attributes = row.pop("attributes")
        row["extra"] = {c: v for c, v in attributes.items() if c != "label"}
    write_products_file(old, rows)
    manifest = read_catalog_manifest(old)
    write_catalog_manifest(old, dataclasses.replace(manifest, files=file_records(old, manifest.counts)))
    with Catalog(old) as catalog, Catalog(built) as new:
        assert catalog.attributes.columns == ["gender", "kids", "label"]
        where = {"label": ("Dress",), "gender": ("Men",)}
        assert catalog.search(queries[0], k=5, where=where).ids == new.search(queries[0], k=5, where=where).ids
        assert len(catalog.search(queries[0], k=5, where=where)) == 2


def test_the_colour_rerank_runs_among_the_products_that_pass(built, queries):
    with Catalog(built) as catalog:
        found = catalog.search(
            queries[0], category="dress", k=3, colour=np.array([50.0, 0.0, 0.0]), where={"kids": ("True",)}
        )
        assert [m.attributes["kids"] for m in found] == ["True"] * len(found)
        assert len(found) == min(3, catalog.passing_count({"kids": ("True",)}, "dress"))


def test_a_column_the_catalog_lacks_is_a_typed_error_naming_its_columns(built, queries):
    with (
        Catalog(built) as catalog,
        pytest.raises(CatalogFilterError, match="no attribute column 'department'.*gender, kids"),
    ):
        catalog.search(queries[0], k=5, where={"department": ("Women",)})


def test_values_no_product_has_give_an_empty_result(built, queries):
    with Catalog(built) as catalog:
        assert len(catalog.search(queries[0], k=5, where={"gender": ("Girls",)})) == 0
        assert catalog.passing_count({"gender": ("Girls",)}) == 0
        assert catalog.attributes.unknown_values({"gender": ("Girls", "Men")}) == {"gender": ["Girls"]}


@pytest.mark.parametrize(
    "texts, expected",
    [
        (["kids=False"], {"kids": ("False",)}),
        (["gender=Women, Unisex", "kids=False"], {"gender": ("Women", "Unisex"), "kids": ("False",)}),
        (["gender=Women,Men", "gender=men"], {"gender": ("Men",)}),
        (["gender=*"], {"gender": ("*",)}),
    ],
)
def test_where_items_parse(texts, expected):
    assert parse_where(texts) == expected


@pytest.mark.parametrize("text", ["kids", "=False", "kids=", "gender=*,Men"])
def test_malformed_where_items_are_typed_errors(text):
    with pytest.raises(CatalogFilterError, match="filter"):
        parse_where([text])


def test_catalog_build_stores_a_default_filter_that_searches_apply_and_star_lifts(
    tmp_path, table, data_dir, queries, capsys
):
    out = tmp_path / "women"
    code = main(
        [
            "catalog", "build", "--items", str(table[0]), "--images", str(data_dir / "clothing"), "--out", str(out),
            "--default-where", "gender=Women", "--embedder", "embedder_triplet_fp32_onnx", "--threads", "1",
        ]
    )  # fmt: skip
    assert code == 0
    assert json.loads((out / "catalog.json").read_text())["default_where"] == {"gender": ["Women"]}
    capsys.readouterr()
    assert main(["catalog", "info", "--catalog", str(out)]) == 0
    assert "  default filter: gender=Women\n" in capsys.readouterr().out
    with Catalog(out) as catalog:
        assert {m.attributes["gender"] for m in catalog.search(queries[1], k=8)} == {"Women"}
        men = catalog.search(queries[1], k=8, where={"gender": ("Men",)})
        assert {m.attributes["gender"] for m in men} == {"Men"} and len(men) == 8
        lifted = catalog.search(queries[1], k=48, where={"gender": ("*",)})
        assert len(lifted) == 48


def test_catalog_build_refuses_a_default_filter_on_a_missing_column(tmp_path, table, data_dir, capsys):
    code = main(
        [
            "catalog", "build", "--items", str(table[0]), "--images", str(data_dir / "clothing"),
            "--out", str(tmp_path / "c"), "--default-where", "department=Women",
        ]
    )  # fmt: skip
    assert code == 2
    assert "no attribute column 'department'" in capsys.readouterr().err
    assert not (tmp_path / "c").exists()


def test_search_command_filters_and_notes_an_empty_result(built, data_dir, table, capsys):
    photo = str(data_dir / "clothing" / table[1][0]["file"])
    assert main(["search", photo, "--catalog", str(built), "--where", "gender=Unisex", "--json", "--top-k", "20"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert len(found["matches"]) == 16 and {m["attributes"]["gender"] for m in found["matches"]} == {"Unisex"}
    assert main(["search", photo, "--catalog", str(built), "--where", "gender=Girls", "--json"]) == 0
    empty = json.loads(capsys.readouterr().out)
    assert empty["matches"] == [] and empty["note"] == "no products in the catalog with gender=Girls"
    assert main(["search", photo, "--catalog", str(built), "--where", "size=M"]) == 2
    assert "no attribute column 'size'" in capsys.readouterr().err


@pytest.mark.parametrize("k", [1, 3])
@pytest.mark.parametrize("strategy", ["auto", "subset", "overfetch"])
@pytest.mark.parametrize("exact_limit", [50_000, 10], ids=["exact shard", "HNSW shard"])
def test_k_come_back_even_when_the_nearest_products_all_fail_the_filter(strategy, exact_limit, k, monkeypatch):
    import edge_bml.catalog.filtered_search as filtered_search
    from edge_bml.catalog.shards import new_index

    monkeypatch.setattr(filtered_search, "EXACT_SEARCH_LIMIT", exact_limit)  # 200 vectors searched as HNSW
    angles = np.linspace(0.0, 0.9 * np.pi, 200)
    vectors = np.zeros((200, 16), np.float32)
    vectors[:, 0], vectors[:, 1] = np.cos(angles), np.sin(angles)  # key i is the i-th nearest to the query
    index = new_index(16, "f32")
    index.add(np.arange(200, dtype=np.uint64), vectors)
    query = np.zeros((1, 16), np.float32)
    query[0, 0] = 1.0
    allowed = np.arange(190, 200)  # the ten farthest pass
    keys, scores = FilteredSearch("f32", strategy=strategy).search(index, query, allowed, k)
    assert keys[0].tolist() == list(range(190, 190 + k))
    assert scores[0] == pytest.approx(np.cos(angles[190 : 190 + k]), abs=1e-5)


@pytest.mark.parametrize("strategy", ["subset", "overfetch"])
def test_a_partitioned_category_filters_like_one_shard(built, table, embedder, data_dir, queries, tmp_path, strategy):
    from edge_bml.catalog.shards import PartitionedShard

    split = tmp_path / "split"
    build_catalog(table[0], data_dir / "clothing", split, embedder, columns=ColumnMap(title="label"), max_shard_size=4)
    where = {"gender": ("Women", "Men")}
    with Catalog(built) as whole, Catalog(split) as parts:
        assert isinstance(parts.shards["top"], PartitionedShard)
        parts._filtered = FilteredSearch(parts.manifest.dtype, strategy=strategy)
        for vector in queries:
            for category in ("top", "pants"):
                ours = whole.search(vector, category=category, k=3, colour_weight=0, where=where)
                theirs = parts.search(vector, category=category, k=3, colour_weight=0, where=where)
                assert theirs.ids == ours.ids and len(theirs) == 3


def test_the_gathered_vectors_cache_keeps_the_latest_filters_within_its_byte_budget(monkeypatch):
    import edge_bml.catalog.filtered_search as filtered_search
    from edge_bml.catalog.shards import new_index

    index = new_index(16, "f32")
    index.add(np.arange(100, dtype=np.uint64), np.eye(16, dtype=np.float32)[np.arange(100) % 16] + 0.01)
    monkeypatch.setattr(filtered_search, "CACHED_BYTES", 3 * 20 * 16 * 4)  # room for three filters of 20 vectors
    engine = FilteredSearch("f32", strategy="subset")
    query = np.ones((1, 16), np.float32)
    for n in range(5):
        engine.search(index, query, np.arange(20 * n, 20 * n + 20), 2, cache_key=("c", n))
    assert list(engine._subsets) == [("c", 2), ("c", 3), ("c", 4)]
