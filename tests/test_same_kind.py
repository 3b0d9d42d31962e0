"""same_kind_at_5: the shipped kind map for the clothing catalog, other maps, and the figure on a hand-made case."""

from __future__ import annotations

import json

import pytest

from edge_bml.errors import EvaluationDataError
from edge_bml.evaluation.same_kind import SameKindScore, load_kind_map


def _row(key: int, category: str, label: str, **more: str) -> dict:
    return {"key": key, "id": f"p{key}", "category": category, "attributes": {"label": label, **more}}


def test_the_shipped_clothing_map_maps_kinds_and_leaves_generic_labels_out(data_dir):
    kind_map = load_kind_map()
    assert kind_map.column == "label" and kind_map.source == "clothing"
    assert kind_map.kinds_of(["t-shirt"]) == {"t-shirt"}
    assert kind_map.kinds_of(["shirt"]) == kind_map.kinds_of(["blouse"]) == {"shirt", "blouse"}
    assert kind_map.kinds_of(["sweater"]) == kind_map.kinds_of(["sweatshirt"]) == {"longsleeve", "hoodie"}
    assert kind_map.kinds_of(["jacket"]) == kind_map.kinds_of(["coat"]) == {"outwear"}
    assert kind_map.kinds_of(["blazer"]) == {"blazer"}
    assert kind_map.kinds_of(["blouse", "sweater"]) == {"shirt", "blouse", "longsleeve", "hoodie"}
    assert kind_map.kinds_of(["shoes"]) == kind_map.kinds_of(["bag"]) == kind_map.kinds_of(["top"]) == frozenset()
    # every value it maps to is a label the clothing catalog has
    labels = {line.split(",")[2].casefold() for line in (data_dir / "clothing" / "items.csv").read_text().splitlines()}
    assert set().union(*kind_map.kinds.values()) <= labels


def test_same_kind_at_5_and_its_chance_on_a_hand_made_catalog():
    kind_map = load_kind_map()
    rows = [
        _row(0, "top", "T-Shirt"),
        _row(1, "top", "T-Shirt"),
        _row(2, "top", "Shirt"),
        _row(3, "top", "Blouse"),
        _row(4, "top", "Longsleeve"),
        _row(5, "top", "Polo"),
        _row(6, "top", "Hoodie"),
        _row(7, "top", "Undershirt"),
        _row(8, "outerwear", "Outwear"),
        _row(9, "outerwear", "Blazer"),
        _row(10, "footwear", "Shoes"),
    ]
    score = SameKindScore(kind_map, rows)
    # a T-shirt: 2 of its 5 matches are T-shirts; chance 2 of the 8 tops
    assert score.add("top", ["t-shirt"], ["p0", "p2", "p1", "p5", "p7"])
    # a blouse: Shirt and Blouse count, 2 of 4 returned; chance 2/8
    assert score.add("top", ["blouse"], ["p3", "p4", "p2", "p6"])
    # a coat: 1 of 2; chance 1/2
    assert score.add("outerwear", ["coat"], ["p9", "p8"])
    # shoes (generic) and an article with no matches are not counted
    assert not score.add("footwear", ["shoes"], ["p10"])
    assert not score.add("top", ["sweater"], [])
    result = score.result()
    assert result["same_kind_at_5"] == round((2 / 5 + 2 / 4 + 1 / 2) / 3, 4) == 0.4667
    assert result["same_kind_chance"] == round((2 / 8 + 2 / 8 + 1 / 2) / 3, 4) == 0.3333
    assert result["same_kind_articles"] == 3 and result["same_kind_not_counted"] == 2
    assert result["same_kind_per_label"]["blouse"] == {"articles": 1, "same_kind_at_5": 0.5, "chance": 0.25}


def test_another_catalog_brings_its_own_map(tmp_path):
    path = tmp_path / "retailer.json"
    path.write_text(json.dumps({"column": "type", "kinds": {"heels": ["Pumps", "Heels"], "boots": ["Boots"]}}))
    kind_map = load_kind_map(path)
    rows = [_row(0, "footwear", "x", type="Heels"), _row(1, "footwear", "x", type="Boots")]
    score = SameKindScore(kind_map, rows)
    score.add("footwear", ["heels"], ["p1", "p0"])
    assert score.result()["same_kind_at_5"] == 0.5 and score.result()["same_kind_chance"] == 0.5


@pytest.mark.parametrize(
    "text, message",
    [
        ("{not json", "Expecting property name"),
        (json.dumps({"kinds": {}}), "'column'"),
        (json.dumps({"column": "label", "kinds": {"shirt": "Shirt"}}), "non-empty list"),
    ],
)
def test_a_malformed_map_is_a_typed_error(tmp_path, text, message):
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(EvaluationDataError, match=message):
        load_kind_map(path)


def test_a_missing_map_is_a_typed_error(tmp_path):
    with pytest.raises(EvaluationDataError, match="not found"):
        load_kind_map(tmp_path / "nothing.json")
