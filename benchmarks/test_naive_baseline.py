"""The naive whole-image baseline's latency: the reference the whole look is compared with in one run.

Run: pytest benchmarks/test_naive_baseline.py benchmarks/test_look_latency.py --benchmark-json=...
One global ImageNet embedding of the whole photo (plain EfficientNet-Lite0, pooled 1280-d) and an
exact numpy search over the clothing catalog built with that backbone. The baseline variant and its
catalog are made once into ``$EDGE_BML_BASELINE_DIR`` (default ``~/.cache/edge_bml/baselines``):
exporting needs the ``train`` extra (torch, EfficientNet-Lite0 weights), building takes minutes.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

NAME = "embedder_backbone_gap_fp32_onnx"


@pytest.fixture(scope="session")
def baseline(data_dir):
    """(plain-backbone variant folder, catalog built with it), made on first use."""
    root = Path(os.environ.get("EDGE_BML_BASELINE_DIR", Path.home() / ".cache" / "edge_bml" / "baselines"))
    variant, catalog = root / NAME, root / "clothing_backbone"
    if not (variant / "manifest.json").is_file():
        pytest.importorskip("torch", reason="exporting the plain backbone needs the train extra")
        from converters.train.embedder_export import export_backbone

        root.mkdir(parents=True, exist_ok=True)
        export_backbone(variant, size=192)
    if not (catalog / "catalog.json").is_file():
        from edge_bml.catalog.build import build_catalog
        from edge_bml.catalog.products import ColumnMap
        from edge_bml.stages.catalog_embedder import open_embedder

        with open_embedder(str(variant), threads=2) as embedder:
            clothing = data_dir / "clothing"
            build_catalog(clothing / "items.csv", clothing, catalog, embedder, columns=ColumnMap(title="label"))
    return variant, catalog


@pytest.mark.parametrize("threads", [1, 2])
def test_naive_whole_image(benchmark, full_shot_photos, baseline, threads):
    from edge_bml.catalog.search import Catalog
    from edge_bml.evaluation.naive_baseline import NaiveWholeImageSearch
    from edge_bml.stages.catalog_embedder import open_embedder

    variant, catalog_dir = baseline
    benchmark.group = "naive_baseline"
    with Catalog(catalog_dir) as catalog, open_embedder(str(variant), threads=threads) as embedder:
        search = NaiveWholeImageSearch(embedder, catalog)
        benchmark.extra_info.update(model=embedder.manifest.name, threads=threads, vectors=len(search.ids))
        state = {"i": 0}

        def run():
            state["i"] = (state["i"] + 1) % len(full_shot_photos)
            return search(full_shot_photos[state["i"]], k=5)

        rows = benchmark(run)
    assert len(rows) == 5
