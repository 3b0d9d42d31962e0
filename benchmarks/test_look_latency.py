"""End-to-end ``LookPipeline`` latency on full-shot CCP photos with the clothing catalog.

Run: pytest benchmarks/test_look_latency.py --benchmark-json=benchmarks/results/look.json
The clothing catalog is built into catalog_shards/clothing first if it is not there (minutes, once).
"""

from __future__ import annotations

import pytest

from edge_bml.errors import ModelNotFoundError
from edge_bml.pipeline import STAGES, LookOptions, LookPipeline


@pytest.fixture(scope="session")
def clothing_catalog(data_dir):
    from edge_bml.cli.demo_command import ensure_default_catalog
    from edge_bml.data_paths import catalogs_dir

    return ensure_default_catalog(data_dir, catalogs_dir() / "clothing")


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("precision", ["auto", "fp32", "int8"])
def test_whole_look(benchmark, full_shot_photos, clothing_catalog, precision, threads):
    try:
        pipeline = LookPipeline(LookOptions(catalog=clothing_catalog, precision=precision, threads=threads))
    except ModelNotFoundError as error:
        pytest.skip(str(error))
    benchmark.group = "whole_look"
    with pipeline:
        benchmark.extra_info.update(precision=precision, threads=threads, **pipeline.models)
        # The naive whole-image baseline at the same threads, where it ran in the same session.
        benchmark.extra_info["reference"] = f"test_naive_whole_image[{threads}]"
        state = {"i": 0, "stages": {s: [] for s in STAGES}}

        def run():
            state["i"] = (state["i"] + 1) % len(full_shot_photos)
            look = pipeline(full_shot_photos[state["i"]])
            for stage in STAGES:
                state["stages"][stage].append(look.timings_ms[stage])
            return look

        look = benchmark(run)
    assert look.articles
    stages = state["stages"]
    benchmark.extra_info["stage_median_ms"] = {s: sorted(v)[len(v) // 2] for s, v in stages.items() if v}


@pytest.mark.parametrize("threads", [2])
@pytest.mark.parametrize("matching", ["appearance_only", "with_colour", "with_colour_and_parser"])
def test_whole_look_colour_cost(benchmark, full_shot_photos, clothing_catalog, matching, threads):
    """What the look-alike colour costs: no colour re-rank, the default (re-rank), and re-rank with the parser."""
    options = LookOptions(catalog=clothing_catalog, threads=threads, parser=matching == "with_colour_and_parser")
    if matching == "appearance_only":
        options = LookOptions(catalog=clothing_catalog, threads=threads, colour_weight=0.0, parser=False)
    benchmark.group = "whole_look_colour_cost"
    with LookPipeline(options) as pipeline:
        benchmark.extra_info.update(matching=matching, threads=threads, **pipeline.models)
        state = {"i": 0}

        def run():
            state["i"] = (state["i"] + 1) % len(full_shot_photos)
            return pipeline(full_shot_photos[state["i"]])

        look = benchmark(run)
    assert look.articles
