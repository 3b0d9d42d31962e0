"""A candidate detector (e.g. a larger input) against the shipped variant of its name, model alone, side by side.

Run: EDGE_BML_DETECTOR_CANDIDATE=DIR pytest benchmarks/test_detector_candidate.py
     --benchmark-json=benchmarks/results/detector_candidate.json
DIR is a detector variant folder (``train detector --out`` gives the FP32 ONNX one; ``quantize --out`` the
INT8 ones). It runs beside the shipped variant of the same name (``article_detector_int8_tflite`` beside
``quantized_models/article_detector_int8_tflite``), else beside the shipped FP32 ONNX one. Both run in the
one session, so the ratio of their medians is read from the same machine state (this machine is noisy).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from edge_bml.manifest import load_manifest
from edge_bml.stages.detector import ArticleDetector

MODELS = Path(__file__).resolve().parents[1] / "quantized_models"
CANDIDATE = os.environ.get("EDGE_BML_DETECTOR_CANDIDATE")


def shipped_counterpart(candidate: Path) -> Path:
    """The shipped variant with the candidate's name (same format and precision), else the FP32 ONNX one."""
    same_name = MODELS / load_manifest(candidate).name
    return same_name if (same_name / "manifest.json").is_file() else MODELS / "article_detector_fp32_onnx"


@pytest.mark.skipif(not CANDIDATE, reason="set EDGE_BML_DETECTOR_CANDIDATE to a detector variant folder")
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("which", ["shipped", "candidate"])
def test_detector_model_alone(benchmark, which, threads):
    candidate = Path(CANDIDATE)
    manifest = load_manifest(shipped_counterpart(candidate) if which == "shipped" else candidate)
    spec = manifest.input
    benchmark.group = f"detector_candidate_threads_{threads}"
    benchmark.extra_info.update(model=manifest.name, input=f"{spec.width}x{spec.height}", threads=threads)
    with ArticleDetector(manifest, threads=threads) as detector:
        tensor = spec.normalize(np.full((spec.height, spec.width, 3), 114, np.uint8))
        outputs = benchmark(detector.infer, tensor)
    assert outputs
