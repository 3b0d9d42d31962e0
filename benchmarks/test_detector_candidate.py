"""A candidate detector (e.g. a larger input) against the shipped FP32 ONNX detector, model alone, side by side.

Run: EDGE_BML_DETECTOR_CANDIDATE=DIR pytest benchmarks/test_detector_candidate.py
     --benchmark-json=benchmarks/results/detector_candidate.json
DIR is an FP32 ONNX detector variant folder (``train detector --out``); both run in the one session, so the
ratio of their medians is read from the same machine state (this machine is noisy).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from edge_bml.manifest import load_manifest
from edge_bml.stages.detector import ArticleDetector

SHIPPED = Path(__file__).resolve().parents[1] / "quantized_models" / "article_detector_fp32_onnx"
CANDIDATE = os.environ.get("EDGE_BML_DETECTOR_CANDIDATE")


@pytest.mark.skipif(not CANDIDATE, reason="set EDGE_BML_DETECTOR_CANDIDATE to an FP32 ONNX detector variant folder")
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("which", ["shipped", "candidate"])
def test_detector_model_alone(benchmark, which, threads):
    manifest = load_manifest(SHIPPED if which == "shipped" else Path(CANDIDATE))
    spec = manifest.input
    benchmark.group = f"detector_candidate_threads_{threads}"
    benchmark.extra_info.update(model=manifest.name, input=f"{spec.width}x{spec.height}", threads=threads)
    with ArticleDetector(manifest, threads=threads) as detector:
        tensor = spec.normalize(np.full((spec.height, spec.width, 3), 114, np.uint8))
        outputs = benchmark(detector.infer, tensor)
    assert outputs
