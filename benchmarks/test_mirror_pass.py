"""The pose stage's mirror pass: three ways to read a landmark crop and its mirror, on 2 threads.

BlazePose's landmarks are averaged with those of the mirrored crop (``PoseLandmarker(mirror_average=True)``),
which doubles the landmark model's time. This measures whether the second read costs less when the two
crops go in together:

- ``two_calls``: what the stage does today, one 2-thread call after the other;
- ``batch_2``: one call on a batch of two (``open_backend(..., batch=2)``: OpenVINO reshapes the model,
  LiteRT resizes its input), 2 threads, as the stage now does;
- ``two_streams``: two 1-thread copies of the model, one crop each, at the same time (both runtimes
  release the GIL while they infer);
- ``one_call``: a single read, for scale.

Run: pytest benchmarks/test_mirror_pass.py --benchmark-json=benchmarks/results/mirror_pass.json
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from benchmarks.variants import variant_for
from edge_bml.backends import open_backend
from edge_bml.model_registry import select_variant
from edge_bml.stages.inputs import landmark_input
from edge_bml.stages.pose import PoseDetector

MODES = ("one_call", "two_calls", "batch_2", "two_streams")
CASES = [(backend, precision) for backend in ("openvino", "litert") for precision in ("int8", "fp32")]


@pytest.fixture(scope="module")
def landmark_crops(full_shot_photos) -> dict[str, list[np.ndarray]]:
    """Each photo's landmark input and its mirror, by input layout (as the stage makes them)."""
    crops: dict[str, list[np.ndarray]] = {}
    with PoseDetector(select_variant("pose_detection", precision="fp32")) as detector:
        detections = [(image, detector(image)[0]) for image in full_shot_photos]
    for backend, precision in CASES:
        manifest = variant_for("pose_landmarks", backend, precision, 2)
        key = manifest.input.layout
        if key in crops:
            continue
        width_axis = 3 if key == "NCHW" else 2
        crops[key] = [
            np.concatenate([tensor, np.ascontiguousarray(np.flip(tensor, axis=width_axis))])
            for tensor in (landmark_input(manifest, image, detection.roi) for image, detection in detections)
        ]
    return crops


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("backend", "precision"), CASES)
def test_mirror_pass(benchmark, landmark_crops, backend, precision, mode):
    manifest = variant_for("pose_landmarks", backend, precision, 2)
    pairs = landmark_crops[manifest.input.layout]
    name = manifest.input.name
    benchmark.group = f"mirror_pass_{backend}_{precision}"
    benchmark.extra_info.update(model=manifest.name, backend=backend, precision=precision, threads=2, mode=mode)
    state = {"i": 0}

    def next_pair() -> np.ndarray:
        state["i"] = (state["i"] + 1) % len(pairs)
        return pairs[state["i"]]

    threads = 1 if mode == "two_streams" else 2
    copies = 2 if mode == "two_streams" else 1
    batch = 2 if mode == "batch_2" else None
    backends = [open_backend(manifest.model_path, backend=backend, threads=threads, batch=batch) for _ in range(copies)]
    try:
        if mode == "one_call":
            result = benchmark(lambda: backends[0].run({name: next_pair()[:1]}))
        elif mode == "batch_2":
            result = benchmark(lambda: backends[0].run({name: next_pair()}))
        elif mode == "two_calls":
            result = benchmark(lambda: [backends[0].run({name: crop[None]}) for crop in next_pair()])
        else:
            with ThreadPoolExecutor(max_workers=2) as pool:

                def both():
                    pair = next_pair()
                    futures = [pool.submit(b.run, {name: pair[i : i + 1]}) for i, b in enumerate(backends)]
                    return [f.result() for f in futures]

                result = benchmark(both)
    finally:
        for b in backends:
            b.close()
    assert result
