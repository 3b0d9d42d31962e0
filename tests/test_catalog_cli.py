"""``edge-bml catalog``, ``edge-bml search`` and ``edge-bml evaluate retrieval`` end to end."""

from __future__ import annotations

import json

import pytest

from edge_bml.cli.main import main
from tests.embedder_models import clothing_rows, export_small_backbone, write_items_csv


@pytest.fixture(scope="module")
def setup(tmp_path_factory, data_dir):
    root = tmp_path_factory.mktemp("cli")
    model = export_small_backbone(root / "small64", 64)
    rows = clothing_rows(data_dir, per_category=3)
    items = write_items_csv(root / "items.csv", rows, ("id", "file", "label", "category"))
    catalog = root / "catalog"
    code = main(
        [
            "catalog",
            "build",
            "--images",
            str(data_dir / "clothing"),
            "--items",
            str(items),
            "--out",
            str(catalog),
            "--embedder",
            str(model),
            "--title-col",
            "label",
            "--threads",
            "1",
        ]
    )
    assert code == 0
    return root, model, rows, catalog


def test_info_json_reports_counts_and_size(setup, capsys):
    _, _, rows, catalog = setup
    capsys.readouterr()
    assert main(["catalog", "info", str(catalog), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["total"] == len(rows) and info["dtype"] == "i8" and info["size_bytes"] > 0


def test_search_json_has_matches_and_timings(setup, data_dir, capsys):
    _, model, rows, catalog = setup
    capsys.readouterr()
    photo = data_dir / "clothing" / rows[0]["file"]
    assert (
        main(["search", str(photo), "--catalog", str(catalog), "--embedder", str(model), "--top-k", "3", "--json"]) == 0
    )
    result = json.loads(capsys.readouterr().out)
    assert [m["id"] for m in result["matches"]][0] == rows[0]["id"]
    assert set(result["matches"][0]) == {"id", "score", "category", "title", "file", "colour", "attributes"}
    assert result["matches"][0]["attributes"] == {"label": rows[0]["label"]}
    assert result["matches"][0]["colour"]["hex"].startswith("#") and len(result["matches"][0]["colour"]["lab"]) == 3
    assert {"decode", "embed", "search", "total"} <= set(result["timings_ms"])


def test_search_with_an_unknown_category_exits_2(setup, data_dir, capsys):
    _, model, rows, catalog = setup
    photo = data_dir / "clothing" / rows[0]["file"]
    assert main(["search", str(photo), "--catalog", str(catalog), "--embedder", str(model), "--category", "bag"]) == 2
    assert "has no products" in capsys.readouterr().err


def test_evaluate_retrieval_json(setup, data_dir, capsys):
    root, model, rows, catalog = setup
    holdout = root / "holdout_ids.json"
    holdout.write_text(json.dumps({"ids": [r["id"] for r in rows[:4]]}))
    capsys.readouterr()
    code = main(
        [
            "evaluate",
            "retrieval",
            "--catalog",
            str(catalog),
            "--queries",
            str(data_dir / "ccp"),
            "--embedder",
            str(model),
            "--holdout",
            str(holdout),
            "--limit",
            "3",
            "--json",
        ]
    )
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert result["queries"]["instance"] == 3 and result["queries"]["category"] > 0
    for key in ("category_precision_at_1", "category_precision_at_5", "instance_recall_at_1", "instance_recall_at_10"):
        assert 0.0 <= result[key] <= 1.0
    assert result["instance_recall_at_10"] >= result["instance_recall_at_1"]
    assert result["lookalike_queries"] > 0
    for key in ("lookalike_colour_de", "lookalike_colour_chance_de", "lookalike_colour_oracle_de"):
        assert result[key] > 0
    assert result["lookalike_colour_oracle_de"] <= result["lookalike_colour_de"]
    assert result["lookalike_colour_ratio"] == pytest.approx(
        result["lookalike_colour_de"] / result["lookalike_colour_chance_de"], abs=2e-3
    )
    assert set(result["lookalike_per_category"]) <= set(json.loads((catalog / "catalog.json").read_text())["counts"])
    assert set(result["per_category"]) <= set(json.loads((catalog / "catalog.json").read_text())["counts"])
    assert (
        main(
            [
                "evaluate",
                "retrieval",
                "--catalog",
                str(catalog),
                "--queries",
                str(data_dir / "ccp"),
                "--embedder",
                str(model),
                "--no-instance",
                "--limit",
                "1",
                "--record",
            ]
        )
        == 0
    )
    recorded = json.loads((model / "manifest.json").read_text())["metrics"]["retrieval"]
    assert recorded["queries"]["instance"] == 0 and recorded["catalog_dtype"] == "i8"


def test_embedder_overlap_of_a_catalog_with_itself_is_one(setup, capsys):
    _, _, rows, catalog = setup
    capsys.readouterr()
    code = main(
        [
            "evaluate",
            "embedder-overlap",
            "--catalog",
            str(catalog),
            "--reference",
            str(catalog),
            "--top-k",
            "5",
            "--json",
        ]
    )
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert result["neighbour_overlap"] == 1.0 and result["products"] == len(rows)
