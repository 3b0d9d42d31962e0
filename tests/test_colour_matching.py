"""Colour in the match: CIELAB, product foregrounds, the re-rank, and the look-alike figure."""

from __future__ import annotations

import numpy as np
import pytest

from edge_bml.catalog.colour_rerank import rerank
from edge_bml.catalog.matches import Match, Matches
from edge_bml.catalog.search import Catalog
from edge_bml.colour import delta_e, hex_colour, median_lab, rgb_to_lab
from edge_bml.errors import CatalogError
from edge_bml.evaluation.lookalike import LookalikeScore
from edge_bml.foreground import garment_colour, neutral_fill, product_foreground
from tests.look_fixtures import build_small_catalog


def test_cielab_of_known_colours():
    lab = rgb_to_lab(np.array([[255, 255, 255], [0, 0, 0], [255, 0, 0]], np.uint8))
    np.testing.assert_allclose(lab[0], [100, 0, 0], atol=0.5)
    np.testing.assert_allclose(lab[1], [0, 0, 0], atol=0.5)
    np.testing.assert_allclose(lab[2], [53.2, 80.1, 67.2], atol=0.5)
    assert hex_colour(lab[2]) == "#ff0000"
    assert float(delta_e(lab[0], lab[1])) == pytest.approx(100, abs=0.5)


def _flat_lay(garment=(30, 60, 200), backdrop=(200, 40, 40), size=(120, 90)) -> np.ndarray:
    image = np.zeros(size + (3,), np.uint8)
    image[:] = backdrop
    rng = np.random.default_rng(0)
    image = np.clip(image + rng.normal(0, 6, image.shape), 0, 255).astype(np.uint8)
    image[25:95, 20:70] = garment
    return image


def test_the_foreground_of_a_flat_lay_is_the_garment_and_its_colour_not_the_backdrop():
    image = _flat_lay()
    mask = product_foreground(image)
    truth = np.zeros(mask.shape, bool)
    truth[25:95, 20:70] = True
    assert (mask & truth).sum() / (mask | truth).sum() > 0.85
    colour = median_lab(image, mask)
    blue = rgb_to_lab(np.array([30, 60, 200], np.uint8))
    assert float(delta_e(colour, blue)) < 3
    assert float(delta_e(median_lab(image), blue)) > 20  # the whole photo would be the red backdrop's
    filled = neutral_fill(image, mask)
    assert (filled[~mask] == 124).all() and (filled[mask] == image[mask]).all()


def test_a_garment_filling_the_frame_falls_back_to_the_centre():
    image = np.full((80, 60, 3), (10, 150, 20), np.uint8)
    mask = product_foreground(image)
    assert mask.shape == (80, 60) and mask[40, 30] and 0.2 < mask.mean() < 0.97
    with pytest.raises(ValueError, match="HxWx3 uint8"):
        product_foreground(np.zeros((10, 10), np.uint8))


def test_garment_colour_takes_the_mask_or_else_the_central_half():
    crop = np.zeros((40, 40, 3), np.uint8)
    crop[:] = (250, 250, 250)
    crop[10:30, 10:30] = (200, 0, 0)
    red = rgb_to_lab(np.array([200, 0, 0], np.uint8))
    assert float(delta_e(garment_colour(crop), red)) < 1
    mask = np.zeros((40, 40), bool)
    mask[:5] = True
    assert float(delta_e(garment_colour(crop, mask), rgb_to_lab(np.array([250] * 3, np.uint8)))) < 1


def _match(pid: str, score: float, rgb) -> Match:
    lab = rgb_to_lab(np.array(rgb, np.uint8))
    return Match(id=pid, score=score, category="top", title="", file="", colour=tuple(float(v) for v in lab))


def test_rerank_lets_the_worn_colour_count_by_its_weight():
    candidates = Matches(
        (
            _match("grey", 0.80, (128, 128, 128)),
            _match("navy", 0.78, (20, 30, 90)),
            _match("gold", 0.70, (212, 175, 55)),
        )
    )
    gold = rgb_to_lab(np.array([210, 170, 60], np.uint8))
    assert rerank(candidates, gold, weight=0.0, k=3).ids == ["grey", "navy", "gold"]
    reranked = rerank(candidates, gold, weight=0.5, k=2)
    assert reranked.ids == ["gold", "grey"]
    assert reranked[0].similarity == pytest.approx(0.70) and reranked[0].score < 0.70


def test_lookalike_score_sets_ours_against_chance_and_oracle():
    palette = rgb_to_lab(np.array([[i * 25, 0, 0] for i in range(11)], np.uint8))
    score = LookalikeScore({"top": (palette, [f"p{i}" for i in range(11)])})
    truth = palette[0]
    score.add("top", truth, ["p0", "p1", "p2", "p3", "p4"])
    best = score.result()
    assert best["lookalike_colour_de"] == best["lookalike_colour_oracle_de"]
    assert best["lookalike_colour_ratio"] < 0.5
    worst = LookalikeScore(score.colours)
    worst.add("top", truth, ["p10", "p9", "p8", "p7", "p6"])
    assert worst.result()["lookalike_colour_ratio"] > 1.5
    assert set(best["lookalike_per_category"]) == {"top"} and best["lookalike_queries"] == 1


@pytest.fixture(scope="module")
def small_catalog(data_dir, tmp_path_factory):
    return build_small_catalog(data_dir, tmp_path_factory.mktemp("colour") / "small", per_category=6)


def test_a_built_catalog_stores_colours_and_search_uses_them(small_catalog):
    with Catalog(small_catalog) as catalog:
        assert catalog.has_colours and catalog.manifest.colour["weight"] == catalog.colour_weight > 0
        row = next(iter(catalog.products.values()))
        vector = np.ones(catalog.manifest.dims, np.float32)
        plain = catalog.search(vector, category=row["category"], k=3, colour_weight=0)
        assert all(m.colour is not None and m.similarity is None for m in plain)
        target = np.asarray(row["colour"], np.float32)
        by_colour = catalog.search(vector, category=row["category"], k=3, colour=target, colour_weight=100)
        assert by_colour[0].colour == pytest.approx(tuple(target), abs=0.01)
        assert "hex" in by_colour[0].to_json()["colour"]
        with pytest.raises(CatalogError, match=">= 0"):
            catalog.search(vector, k=3, colour=target, colour_weight=-1)


def test_the_catalogs_array_re_rank_equals_the_re_rank_of_matches(small_catalog):
    from edge_bml.catalog.colour_rerank import rerank

    rng = np.random.default_rng(5)
    with Catalog(small_catalog) as catalog:
        pool = int(catalog.manifest.colour["candidates"])
        for category in catalog.categories:
            for _ in range(10):
                vector = rng.normal(size=catalog.manifest.dims).astype(np.float32)
                colour = rng.uniform([20, -40, -40], [90, 40, 40]).astype(np.float32)
                fast = catalog.search(vector, category=category, k=5, colour=colour, colour_weight=0.5)
                candidates = catalog.search(vector, category=category, k=pool, colour_weight=0)
                slow = rerank(candidates, colour, weight=0.5, k=5)
                assert fast == slow
