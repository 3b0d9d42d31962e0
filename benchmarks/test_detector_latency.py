"""Article detector latency per backend x precision x threads (crop + inference + decoding), on CCP photos.

Run: pytest benchmarks/test_detector_latency.py --benchmark-json=benchmarks/results/detector.json
"""

from __future__ import annotations

import itertools

import pytest

from benchmarks.variants import variant_for
from edge_bml.backends import BACKEND_NAMES
from edge_bml.stages.detector import ArticleDetector

CASES = list(itertools.product(BACKEND_NAMES, ("fp32", "int8"), (1, 2)))


@pytest.mark.parametrize(("backend", "precision", "threads"), CASES)
def test_article_detector(benchmark, full_shot_photos, backend, precision, threads):
    manifest = variant_for("detector", backend, precision, threads)
    benchmark.group = "article_detector"
    benchmark.extra_info.update(model=manifest.name, backend=backend, precision=precision, threads=threads)
    with ArticleDetector(manifest, threads=threads) as detector:
        state = {"i": 0}

        def run():
            state["i"] = (state["i"] + 1) % len(full_shot_photos)
            image = full_shot_photos[state["i"]]
            height, width = image.shape[:2]
            return detector(image, (width * 0.25, height * 0.05, width * 0.75, height * 0.95))

        found = benchmark(run)
    assert found.xyxy.shape[1] == 4
