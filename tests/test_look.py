"""The whole look: `LookPipeline`, `edge-bml look`, the gate's advice, and `edge_bml.evaluate`."""

from __future__ import annotations

import json

import numpy as np
import pytest

import edge_bml
from edge_bml.cli.main import main
from edge_bml.image_io import read_image
from edge_bml.pipeline import STAGES, LookOptions, LookPipeline
from tests.look_fixtures import build_small_catalog


@pytest.fixture(scope="module")
def catalog(data_dir, tmp_path_factory):
    return build_small_catalog(data_dir, tmp_path_factory.mktemp("look_catalog") / "small")


@pytest.fixture(scope="module")
def pipeline(catalog):
    with LookPipeline(LookOptions(catalog=catalog, top_k=3, threads=1)) as look:
        yield look


def test_a_full_shot_gives_articles_with_matches_of_their_category(pipeline, ccp_val):
    look = pipeline(ccp_val[0]["path"])
    assert look.shot == "full_shot" and look.stopped is None
    assert look.articles
    assert list(look.timings_ms) == list(STAGES)
    assert all(look.timings_ms[s] > 0 for s in ("decode", "pose_detect", "pose_landmarks", "detect", "total"))
    for article in look.articles:
        assert article.category in pipeline.detector.labels
        x0, y0, x1, y1 = article.box
        assert x0 < x1 and y0 < y1
        if article.category in pipeline.catalog.shards:
            assert 0 < len(article.matches) <= 3
            assert all(m.category == article.category for m in article.matches)
        else:
            assert not article.matches and "no" in article.note
    record = look.to_json()
    assert json.loads(json.dumps(record))["articles"][0]["category"] == look.articles[0].category


def test_bytes_arrays_and_paths_give_the_same_look(pipeline, ccp_val):
    path = ccp_val[1]["path"]
    from_path = pipeline(path)
    from_bytes = pipeline(path.read_bytes(), file="upload.jpg")
    from_array = pipeline(read_image(path))
    for other in (from_bytes, from_array):
        assert [a.category for a in other.articles] == [a.category for a in from_path.articles]
        np.testing.assert_allclose(other.keypoints, from_path.keypoints, atol=1e-3)
    assert from_bytes.file == "upload.jpg"


def test_the_gate_stops_cut_photos_and_says_what_to_do(pipeline, ccp_val, data_dir):
    image = read_image(ccp_val[0]["path"])
    cut = pipeline(np.ascontiguousarray(image[: int(image.shape[0] * 0.55)]))
    assert cut.shot == "upper_body" and cut.articles == []
    assert cut.stopped.startswith("the feet are out of frame")
    assert cut.timings_ms["detect"] == 0.0
    garment = sorted((data_dir / "clothing" / "images").glob("*.jpg"))[0]  # a flat-lay: nobody in it
    empty = pipeline(garment)
    assert empty.shot == "no_person" and empty.articles == []
    assert empty.stopped.startswith("no person was found") and empty.person_box is None


def test_look_cli_json_draw_and_html(catalog, ccp_val, tmp_path, capsys):
    photos = [str(ccp_val[0]["path"]), str(ccp_val[2]["path"])]
    html = tmp_path / "look.html"
    code = main(
        [
            "look",
            *photos,
            "--catalog",
            str(catalog),
            "--json",
            "--top-k",
            "2",
            "--draw",
            str(tmp_path / "look.png"),
            "--html",
            str(html),
        ]
    )
    assert code == 0
    printed = capsys.readouterr()
    records = [json.loads(line) for line in printed.out.strip().splitlines()]
    assert [r["file"] for r in records] == photos
    drawn = sorted(tmp_path.glob("look_*.png"))
    assert sorted(line.removeprefix("wrote ") for line in printed.err.splitlines() if line.startswith("wrote ")) == [
        str(path) for path in drawn
    ]  # --draw says what it wrote, on stderr so stdout stays JSON lines
    for record in records:
        assert {"shot", "facing", "person_box", "keypoints", "articles", "timings_ms"} <= set(record)
        assert list(record["timings_ms"]) == list(STAGES)
        assert all(len(a["matches"]) <= 2 for a in record["articles"])
    assert len(drawn) == 2
    page = html.read_text()
    assert page.count("<section>") == 2 and "data:image/jpeg;base64," in page
    assert "http://" not in page and "https://" not in page
    assert main(["look", photos[0], "--catalog", str(catalog)]) == 0
    table = capsys.readouterr().out
    assert "full_shot" in table and "ms: decode" in table


def test_evaluate_scores_the_look(catalog, ccp_val):
    images = ccp_val[:4]
    result = edge_bml.evaluate([i["path"] for i in images], images, catalog=catalog)
    assert result["images"] == 4
    assert 0.0 <= result["map50"] <= 1.0 and set(result["ap50_per_category"]) >= {"top", "footwear"}
    assert result["gated_share"] == 0.0
    assert result["category_precision_at_5"] is None or 0.0 <= result["category_precision_at_5"] <= 1.0
    assert set(result["latency_ms"]) == set(STAGES)
    photo = result["photo_level"]
    assert photo["photos_scored"] == 4
    assert 0.5 <= photo["labelled_category_coverage"] <= 1.0  # full shots: tops, pants, footwear get found
    assert 0.5 <= photo["returned_product_precision"] <= 1.0
    with pytest.raises(ValueError, match="annotations"):
        edge_bml.evaluate([images[0]["path"]], [], catalog=catalog)


def test_per_stage_choices_from_the_command_line(catalog, ccp_val, capsys):
    photo = str(ccp_val[0]["path"])
    args = ["look", photo, "--catalog", str(catalog), "--stage", "pose=litert:fp32:1", "--precision", "auto"]
    assert main(args) == 0
    assert "pose_detection blazepose_detection_fp32_tflite" in capsys.readouterr().out
    with pytest.raises(SystemExit) as stopped:
        main(["look", photo, "--stage", "pose=cuda"])
    assert stopped.value.code == 2
    assert "unknown backend or precision" in capsys.readouterr().err
    assert main(["look", photo, "--stage", "pose=onnxruntime:fp32"]) == 2  # BlazePose has no ONNX variant
    assert "no pose_detection model for backend=onnxruntime precision=fp32" in capsys.readouterr().err


def test_naive_baseline_scores_the_whole_photo_as_one_query(catalog, data_dir, capsys):
    # The shipped embedder stands in for the plain backbone: the baseline is embedder-agnostic.
    code = main(
        ["evaluate", "naive-baseline", "--data", str(data_dir), "--split", "val", "--limit", "4"]
        + ["--catalog", str(catalog), "--threads", "1", "--json"]
    )
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 0 and result["images"] == 4 and result["k"] == 5
    assert 0.0 < result["returned_product_precision"] <= 1.0
    assert 0.0 < result["labelled_category_coverage"] < 1.0  # one query cannot cover every labelled article
    assert {"embed", "search", "total"} <= set(result["latency_ms"])


def test_photo_level_scores_count_labelled_categories_the_catalog_sells():
    from edge_bml.evaluation.photo_retrieval import PhotoRetrievalScore

    score = PhotoRetrievalScore(["top", "pants", "footwear"])
    score.add(["top", "pants", "belt"], ["top", "top", "skirt", "footwear"])  # belt is not sold: ignored
    score.add(["belt"], ["top"])  # nothing sold is labelled: photo skipped
    score.add(["footwear"], [])
    assert score.summary() == {
        "photos_scored": 2,
        "labelled_category_coverage": round((0.5 + 0.0) / 2, 4),
        "returned_product_precision": round((0.5 + 0.0) / 2, 4),
    }
