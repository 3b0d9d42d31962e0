"""Measuring what each model variant costs on this machine, for the latency profile.

A few seconds per variant and thread count (``edge-bml bench``), or a quarter of a second on first use
(``auto`` where no profile covers the candidates): a seeded random photo-sized input, prepared as the
manifest says, a short warm-up, then timed runs until the time budget is spent.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from edge_bml.backends import is_available, open_backend
from edge_bml.latency_profile import LatencyProfile
from edge_bml.manifest import ModelManifest

WARMUP_RUNS = 3
MIN_RUNS = 5
MAX_RUNS = 500


def sample_input(manifest: ModelManifest, *, seed: int = 0) -> np.ndarray:
    """A batch-of-one input of the model's size: random RGB pixels normalised as the manifest says."""
    spec = manifest.input
    pixels = np.random.default_rng(seed).integers(0, 256, size=(spec.height, spec.width, 3), dtype=np.uint8)
    return spec.normalize(pixels)


def time_variant(manifest: ModelManifest, *, threads: int, seconds: float = 1.0) -> float:
    """Median milliseconds of one inference of ``manifest`` at ``threads`` on its own backend.

    Raises:
        BackendUnavailableError, ModelLoadError, ChecksumMismatchError: the variant cannot run here.
    """
    manifest.verify()
    with open_backend(manifest.model_path, backend=manifest.backend, threads=threads) as backend:
        name = manifest.input.name or backend.inputs[0].name
        feeds = {name: sample_input(manifest)}
        for _ in range(WARMUP_RUNS):
            backend.run(feeds)
        times: list[float] = []
        deadline = time.perf_counter() + seconds
        while len(times) < MIN_RUNS or (time.perf_counter() < deadline and len(times) < MAX_RUNS):
            started = time.perf_counter()
            backend.run(feeds)
            times.append((time.perf_counter() - started) * 1000.0)
    return float(np.median(times))


def measure_profile(
    manifests: Sequence[ModelManifest],
    profile: LatencyProfile,
    *,
    threads: Sequence[int] = (1, 2),
    seconds: float = 1.0,
    on_step: Callable[[ModelManifest, int, float | None, str], None] | None = None,
) -> dict[str, str]:
    """Time every variant whose runtime is installed at each thread count into ``profile``.

    Returns why each variant that could not be timed was skipped; ``on_step(manifest, threads, ms, note)``
    is called after each measurement (for progress bars).
    """
    from edge_bml.errors import EdgeBmlError

    skipped: dict[str, str] = {}
    for manifest in manifests:
        if not is_available(manifest.backend):
            skipped[manifest.name] = f"the {manifest.backend} runtime is not installed"
            continue
        for count in threads:
            try:
                milliseconds = time_variant(manifest, threads=count, seconds=seconds)
            except EdgeBmlError as error:
                skipped[manifest.name] = str(error)
                if on_step is not None:
                    on_step(manifest, count, None, "skipped")
                break
            profile.record(manifest, count, milliseconds)
            if on_step is not None:
                on_step(manifest, count, milliseconds, "")
    return skipped


MEASURE_ENV = "EDGE_BML_MEASURE"
FIRST_USE_SECONDS = 0.25


def measuring_enabled() -> bool:
    """Whether ``auto`` may time variants on first use (``EDGE_BML_MEASURE=0``, or ``--no-measure``, turns it off)."""
    return os.environ.get(MEASURE_ENV, "1").strip().lower() not in ("0", "false", "no", "off")


def measure_on_first_use(
    task: str, manifests: Sequence[ModelManifest], *, threads: int, seconds: float = FIRST_USE_SECONDS
) -> LatencyProfile | None:
    """This machine's profile, after timing the variants it lacks at ``threads``; None where measuring is off.

    Where one of ``manifests`` (``task``'s candidates) is missing, every task's candidates that the profile
    lacks are timed at once (about a quarter of a second each, once per machine, said on stderr), in a
    process of their own so that the runtimes loaded to time them do not stay in this one's memory.

    The profile is re-read just before it is saved, so two processes measuring at once keep each other's figures.
    """
    from edge_bml.latency_profile import LatencyProfileError, load_or_new_profile, load_profile

    if not measuring_enabled():
        return None
    profile = load_or_new_profile()
    if all(profile.latency(m, threads) is not None for m in manifests):
        return profile
    print(
        f"edge-bml: timing the model variants at {threads} thread(s) on this CPU, once, so that auto picks the "
        f"fastest here ({MEASURE_ENV}=0 turns this off) ...",
        file=sys.stderr,
        flush=True,
    )
    started = time.perf_counter()
    command = [sys.executable, "-m", "edge_bml.latency_bench", "--threads", str(threads), "--seconds", str(seconds)]
    done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=False)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        print(f"edge-bml: timing failed ({last}); auto goes by the shipped figures", file=sys.stderr)
    try:
        profile = load_profile() or profile
    except LatencyProfileError:
        return None
    print(f"edge-bml: timed in {time.perf_counter() - started:.1f} s; saved to {profile.path}", file=sys.stderr)
    return profile


def time_missing_candidates(*, threads: int, seconds: float = FIRST_USE_SECONDS) -> Path:
    """Time every task's ``auto`` candidates (installed, accuracy passed) that this machine's profile lacks at
    ``threads``, and save the profile; returns its path."""
    from edge_bml.latency_profile import load_or_new_profile, new_profile, save_profile
    from edge_bml.model_registry import list_manifests

    known = load_or_new_profile()
    missing = [
        m
        for m in list_manifests()
        if m.accuracy_passed and is_available(m.backend) and known.latency(m, threads) is None
    ]
    fresh = new_profile()
    measure_profile(missing, fresh, threads=(threads,), seconds=seconds)
    profile = load_or_new_profile()  # re-read: another process may have saved figures meanwhile
    for manifest in missing:
        value = fresh.latency(manifest, threads)
        if value is not None:
            profile.record(manifest, threads, value)
    return save_profile(profile)


if __name__ == "__main__":
    import argparse

    arguments = argparse.ArgumentParser(description="time the variants this machine's latency profile lacks")
    arguments.add_argument("--threads", type=int, required=True)
    arguments.add_argument("--seconds", type=float, default=FIRST_USE_SECONDS)
    options = arguments.parse_args()
    print(time_missing_candidates(threads=options.threads, seconds=options.seconds))
