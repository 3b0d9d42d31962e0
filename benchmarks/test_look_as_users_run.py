"""The whole look as users run it (#32): ``edge-bml look`` over 30 different CCP val photos, beside MediaPipe.

Each photo is looked at once (no repeated image) by the command line in a fresh process, as a new user
runs it: default ``auto``, 2 threads, the clothing catalog, a fresh cache folder. ``first_use`` lets
``auto`` time the candidates on this CPU while the models load (before any photo is timed);
``shipped`` turns that off (``EDGE_BML_MEASURE=0``), so ``auto`` goes by the latencies in the manifests.
MediaPipe's pose solution alone (``mediapipe==0.10.21``, ``model_complexity=1``, ``process()`` only)
reads the same photos in the same run (its venv: see benchmarks/test_pose_reference.py).

The figures are the medians of each photo's ``total`` (decode to matches) and of MediaPipe's
``process()``; their ratio is the headline of README *Benchmarks*.

Run: pytest benchmarks/test_look_as_users_run.py --benchmark-json=benchmarks/results/look_as_users_run.json
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys

import numpy as np
import pytest

from benchmarks.test_pose_reference import MediaPipeWorker, reference_python, reference_unavailable

PHOTOS = 30
THREADS = 2


@pytest.fixture(scope="module")
def val_photos(data_dir):
    annotations = json.loads((data_dir / "ccp" / "annotations.json").read_text())
    files = [image["file"] for image in annotations["images"] if image["split"] == "val"][:PHOTOS]
    return [data_dir / "ccp" / name for name in files]


@pytest.fixture(scope="module")
def clothing_catalog(data_dir):
    from edge_bml.cli.demo_command import ensure_default_catalog
    from edge_bml.data_paths import catalogs_dir

    return ensure_default_catalog(data_dir, catalogs_dir() / "clothing")


def _looks(photos, catalog, cache, *, measure: bool) -> list[dict]:
    env = {**os.environ, "EDGE_BML_CACHE": str(cache), "EDGE_BML_MEASURE": "1" if measure else "0"}
    command = [sys.executable, "-m", "edge_bml.cli.main", "look", *map(str, photos)]
    command += ["--catalog", str(catalog), "--json", "--threads", str(THREADS)]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=900, check=True)
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def mediapipe_times(photos) -> list[float]:
    """MediaPipe's ``process()`` milliseconds for each photo, each read once, in a fresh worker."""
    worker = MediaPipeWorker(reference_python())
    try:
        return [worker.request({"op": "pose", "path": str(path)})["ms"] for path in photos]
    finally:
        worker.close()


def _summary(values: list[float]) -> dict:
    return {
        "median_ms": round(statistics.median(values), 2),
        "p95_ms": round(float(np.percentile(values, 95)), 2),
        "runs": len(values),
    }


@pytest.mark.parametrize("auto", ["first_use", "shipped"])
def test_whole_look_as_users_run_it_beside_mediapipe(benchmark, val_photos, clothing_catalog, tmp_path, auto):
    why = reference_unavailable()
    if why:
        pytest.skip(why)
    benchmark.group = "look_as_users_run"
    state = {}

    def run():
        state["looks"] = _looks(val_photos, clothing_catalog, tmp_path / "cache", measure=auto == "first_use")
        state["mediapipe"] = mediapipe_times(val_photos)

    benchmark.pedantic(run, rounds=1, iterations=1)
    looks, reference = state["looks"], state["mediapipe"]
    assert len(looks) == len(val_photos) == len(reference)
    totals = [look["timings_ms"]["total"] for look in looks]
    gaps = [
        look["timings_ms"]["total"] - sum(v for k, v in look["timings_ms"].items() if k != "total") for look in looks
    ]
    stages = {stage: statistics.median(look["timings_ms"][stage] for look in looks) for stage in looks[0]["timings_ms"]}
    ours, theirs = _summary(totals), _summary(reference)
    benchmark.extra_info.update(
        auto=auto,
        threads=THREADS,
        look=ours,
        mediapipe_pose=theirs,
        ratio_of_medians=round(ours["median_ms"] / theirs["median_ms"], 3),
        p95_over_median=round(ours["p95_ms"] / ours["median_ms"], 3),
        stage_median_ms={k: round(v, 2) for k, v in stages.items()},
        largest_gap_outside_stages_ms=round(max(gaps), 3),
        models=looks[0]["models"],
    )
