"""Article embedder latency per backend x precision x threads: the annotated articles of a CCP photo, one batch.

Run: pytest benchmarks/test_embedder_latency.py --benchmark-json=benchmarks/results/embedder.json
A full shot carries about four articles; the look embeds them together, so a round is one photo's crops.
"""

from __future__ import annotations

import itertools
import json

import pytest

from benchmarks.variants import variant_for
from edge_bml.backends import BACKEND_NAMES
from edge_bml.image_io import read_image
from edge_bml.stages.embedder import ArticleEmbedder

CASES = list(itertools.product(BACKEND_NAMES, ("fp32", "int8"), (1, 2)))


@pytest.fixture(scope="session")
def article_crops(data_dir):
    """The annotated article crops (RGB) of eight CCP val photos, one list per photo."""
    annotations = json.loads((data_dir / "ccp" / "annotations.json").read_text())
    photos = []
    for image in [i for i in annotations["images"] if i["split"] == "val"][:8]:
        rgb = read_image(data_dir / "ccp" / image["file"])
        crops = [rgb[y0:y1, x0:x1] for x0, y0, x1, y1 in (o["box"] for o in image["objects"])]
        photos.append([c for c in crops if c.size])
    return photos


@pytest.mark.parametrize(("backend", "precision", "threads"), CASES)
def test_article_embedder(benchmark, article_crops, backend, precision, threads):
    manifest = variant_for("embedder", backend, precision, threads)
    benchmark.group = "article_embedder"
    benchmark.extra_info.update(
        model=manifest.name,
        backend=backend,
        precision=precision,
        threads=threads,
        crops_per_round=round(sum(map(len, article_crops)) / len(article_crops), 2),
    )
    with ArticleEmbedder(manifest, threads=threads) as embedder:
        state = {"i": 0}

        def run():
            state["i"] = (state["i"] + 1) % len(article_crops)
            return embedder.embed(article_crops[state["i"]])

        vectors = benchmark(run)
    assert vectors.shape[1] == embedder.dims
