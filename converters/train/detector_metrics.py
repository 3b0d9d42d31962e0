"""Measure a detector variant on CCP val and record the figures (and tuned thresholds) in its manifest.

mAP comes from ``edge_bml.evaluation`` with the pose stage's person crop (as in production) and
with the ground-truth person box; per-class score thresholds are the F1-best ones on the pose-crop
run (they do not change AP, which is measured at a 0.001 threshold), after boxes of mutually exclusive
categories were resolved (``edge_bml.stages.exclusive_articles``; ``tune-thresholds`` re-tunes them
in a second pass); latency is the median of
repeated runs of the model alone at 1 and 2 threads.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path

import numpy as np

from edge_bml.manifest import load_manifest, write_manifest


def measure_latency(manifest, *, threads: int, runs: int = 30) -> float:
    """Median milliseconds of one inference of ``manifest``'s model (after 3 warm-up runs)."""
    from edge_bml.stages.detector import ArticleDetector

    with ArticleDetector(manifest, threads=threads) as detector:
        spec = manifest.input
        tensor = spec.normalize(np.full((spec.height, spec.width, 3), 114, np.uint8))
        times = []
        for i in range(runs + 3):
            started = time.perf_counter()
            detector.infer(tensor)
            if i >= 3:
                times.append((time.perf_counter() - started) * 1000)
    return round(float(np.median(times)), 2)


def record_detector_metrics(variant: Path, data_dir: Path, *, split: str = "val", tune_thresholds: bool = True) -> dict:
    """Evaluate ``variant`` on ``split`` and write the figures into its manifest; returns the metrics.

    Raises:
        ModelNotFoundError/ManifestError: the variant is not there; EvaluationDataError: no data.
    """
    from converters.train.detector_thresholds import CANDIDATE_FLOOR, thresholds_tuned_on
    from edge_bml.evaluation.detector_eval import evaluate_detector, load_annotations
    from edge_bml.stages.detector import ArticleDetector
    from edge_bml.stages.exclusive_articles import ExclusiveRule
    from edge_bml.stages.pose import PoseEstimator

    manifest = load_manifest(variant)
    decoder = dict(manifest.decoder)
    decoder.setdefault("exclusive", ExclusiveRule().to_json())
    decoder.setdefault("candidate_score_threshold", CANDIDATE_FLOOR)
    manifest = dataclasses.replace(manifest, decoder=decoder)
    images = load_annotations(Path(data_dir) / "ccp" / "annotations.json", split=split)
    results = {}
    with ArticleDetector(manifest) as detector, PoseEstimator.create_from_options() as pose:
        pose_models = [pose.detector.manifest.name, pose.landmarker.manifest.name]
        for crop in ("pose", "gt"):
            print(f"evaluating {manifest.name} on {split} with the {crop} person crop", file=sys.stderr)
            results[crop] = evaluate_detector(detector, images, person_crop=crop, pose_estimator=pose)
    decoder = dict(manifest.decoder)
    if tune_thresholds:
        decoder["class_score_thresholds"] = results["pose"]["best_f1_thresholds"]
        decoder["thresholds_tuned_on"] = thresholds_tuned_on(split, results["pose"]["best_f1_min_precision"])
    keep = ("map50", "map50_95", "ap50_per_category", "ap50_95_per_category", "images", "images_without_person")
    metrics = dict(manifest.metrics)
    metrics.update(
        {
            "ccp_val_pose_crop": {k: results["pose"][k] for k in keep},
            "ccp_val_gt_crop": {k: results["gt"][k] for k in keep},
            "map50": results["pose"]["map50"],
            "pose_models": pose_models,
            "latency_ms": {f"threads_{n}": measure_latency(manifest, threads=n) for n in (1, 2)},
            "evaluated_with": f"edge-bml evaluate detector --data DATA --split {split} --model {variant.name}",
        }
    )
    write_manifest(dataclasses.replace(manifest, decoder=decoder, metrics=metrics))
    return metrics
