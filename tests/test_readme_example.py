"""The README's `/v1/look` response example has the keys of a real response, no more and no fewer."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from edge_bml.pipeline import STAGES, LookOptions, LookPipeline
from tests.look_fixtures import build_small_catalog

README = Path(__file__).resolve().parent.parent / "README.md"


def readme_look_example() -> dict:
    """The first ```json block after the README's "## HTTP API" heading."""
    text = README.read_text()
    section = text[text.index("\n## HTTP API\n") :]
    block = re.search(r"```json\n(.*?)\n```", section, re.S)
    assert block, "README's HTTP API section has no ```json example"
    return json.loads(block.group(1))


def key_paths(value, prefix: str = "") -> set[str]:
    """Every key path of ``value``: dicts by key, lists by their first element (``[]``)."""
    paths: set[str] = set()
    if isinstance(value, dict):
        for key, item in value.items():
            paths.add(prefix + key)
            paths |= key_paths(item, f"{prefix}{key}.")
    elif isinstance(value, list) and value and isinstance(value[0], dict | list):
        paths |= key_paths(value[0], f"{prefix}[].")
    return paths


def test_key_paths_see_an_added_key_in_an_article_and_a_match():
    look = {"articles": [{"category": "top", "matches": [{"id": "1"}]}]}
    assert key_paths(look) == {"articles", "articles.[].category", "articles.[].matches", "articles.[].matches.[].id"}
    look["articles"][0]["matches"][0]["extra"] = 1
    assert "articles.[].matches.[].extra" in key_paths(look)


def test_the_example_names_the_pipeline_stages_in_order():
    assert list(readme_look_example()["timings_ms"]) == list(STAGES)


@pytest.fixture(scope="module")
def real_response(data_dir, ccp_val, tmp_path_factory) -> dict:
    """A real ``/v1/look`` body: the pipeline's JSON with the server's ``image_url`` on each match."""
    pytest.importorskip("fastapi")
    from edge_bml.server.app import _with_image_urls

    catalog = build_small_catalog(data_dir, tmp_path_factory.mktemp("readme") / "small", per_category=2)
    with LookPipeline(LookOptions(catalog=catalog, top_k=2, threads=1)) as pipeline:
        for image in ccp_val[:6]:
            look = _with_image_urls(pipeline(image["path"], file="look.jpg").to_json())
            if any(a["matches"] and "note" not in a for a in look["articles"]):
                return look
    pytest.fail("no CCP val photo of the first six gave an article with matches")


def test_the_readme_example_has_the_keys_of_a_real_response(real_response):
    example = readme_look_example()
    # Compare the example's article with a real article like it: one the catalog sells (matches, no note).
    sold = next(a for a in real_response["articles"] if a["matches"] and "note" not in a)
    real = {**real_response, "articles": [sold]}
    assert key_paths(example) == key_paths(real), (
        f"only in README: {sorted(key_paths(example) - key_paths(real))}; "
        f"only in the response: {sorted(key_paths(real) - key_paths(example))}"
    )
    assert list(example["timings_ms"]) == list(real_response["timings_ms"])
