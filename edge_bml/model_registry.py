"""Finds model variants under ``quantized_models/`` and picks one per task.

``auto`` picks, among the variants whose runtime is installed and whose measured accuracy
passed, the one with the lowest latency at the requested thread count, measured on this machine: the
first time a task is loaded here, the candidates its latency profile lacks are timed (a quarter of a
second each) and kept in the profile (``edge-bml bench`` measures longer). With measuring off
(``EDGE_BML_MEASURE=0``), the latencies recorded in the shipped manifests (another CPU) decide.
Variants with no latency rank after measured ones, FP32 LiteRT first.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from edge_bml.backends import BACKEND_NAMES, Backend, is_available, open_backend
from edge_bml.errors import EdgeBmlError, ManifestError, ModelNotFoundError
from edge_bml.latency_bench import measure_on_first_use
from edge_bml.latency_profile import LatencyProfile, LatencyProfileError, load_profile
from edge_bml.manifest import MANIFEST_NAME, PRECISIONS, ModelManifest, load_manifest

_UNMEASURED_ORDER = {"litert": 0, "openvino": 1, "onnxruntime": 2}


def models_dir() -> Path:
    """Where model variants live: ``$EDGE_BML_MODELS``, else the ``quantized_models`` shipped with edge_bml.

    Raises:
        ModelNotFoundError: neither exists.
    """
    override = os.environ.get("EDGE_BML_MODELS")
    if override:
        return Path(override)
    spec = importlib.util.find_spec("quantized_models")
    if spec is not None and spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    candidate = Path(__file__).resolve().parent.parent / "quantized_models"
    if candidate.is_dir():
        return candidate
    raise ModelNotFoundError("no quantized_models directory found; set EDGE_BML_MODELS to a folder of models")


_warned: set[str] = set()  # broken manifests already reported in this process


def list_manifests(root: str | Path | None = None) -> list[ModelManifest]:
    """Every valid manifest one level below ``root``, sorted by name.

    A broken one (bad JSON, a missing or wrong field) is skipped with one warning line on stderr, once
    per process: a damaged variant nobody asked for must not stop every command. Naming it (a folder
    given to ``load_manifest``) still raises its ``ManifestError``.
    """
    root = Path(root) if root is not None else models_dir()
    found = []
    for manifest_path in sorted(root.glob(f"*/{MANIFEST_NAME}")):
        try:
            found.append(load_manifest(manifest_path.parent))
        except ManifestError as error:
            if str(manifest_path) not in _warned:
                _warned.add(str(manifest_path))
                print(
                    f"edge-bml: warning: skipped the model variant {manifest_path.parent.name}: {error}",
                    file=sys.stderr,
                )
    return found


def _latency(manifest: ModelManifest, threads: int | None) -> float | None:
    latency = manifest.metrics.get("latency_ms", {})
    key = f"threads_{threads or 2}"
    value = latency.get(key)
    return float(value) if isinstance(value, (int, float)) else None


@dataclass(frozen=True)
class VariantChoice:
    """The variant picked for a task, and on what grounds.

    basis: ``profile`` (this machine's measured latencies), ``shipped`` (latencies recorded in the
    manifests, measured on another CPU), ``only`` (a single variant fits the request), ``given``
    (named by the caller) or ``catalog`` (the embedder that built the catalog searched).
    """

    manifest: ModelManifest
    basis: str
    why: str

    def to_json(self) -> dict:
        return {"variant": self.manifest.name, "chosen_by": self.basis, "why": self.why}


def _this_machines_profile() -> tuple[LatencyProfile | None, str]:
    try:
        return load_profile(), ""
    except LatencyProfileError as error:
        return None, f" ({error})"


def select_variant(
    task: str,
    *,
    backend: str = "auto",
    precision: str = "auto",
    threads: int | None = None,
    root: str | Path | None = None,
) -> ModelManifest:
    """Choose one variant of ``task`` (see ``choose_variant``).

    Raises:
        ModelNotFoundError: no variant matches the request.
        ValueError: an unknown backend or precision name.
    """
    return choose_variant(task, backend=backend, precision=precision, threads=threads, root=root).manifest


def choose_variant(
    task: str,
    *,
    backend: str = "auto",
    precision: str = "auto",
    threads: int | None = None,
    root: str | Path | None = None,
) -> VariantChoice:
    """Choose one variant of ``task`` and say why: by this machine's latency profile where it covers
    every candidate, else by the latencies in the manifests.

    Raises:
        ModelNotFoundError: no variant matches the request.
        ValueError: an unknown backend or precision name.
    """
    if backend != "auto" and backend not in BACKEND_NAMES:
        raise ValueError(f"backend must be auto or one of {BACKEND_NAMES}, got {backend!r}")
    if precision != "auto" and precision not in PRECISIONS:
        raise ValueError(f"precision must be auto or one of {PRECISIONS}, got {precision!r}")
    variants = [m for m in list_manifests(root) if m.task == task]
    if not variants:
        raise ModelNotFoundError(
            f"no {task} model under {root or models_dir()}; run `edge-bml-convert fetch blazepose` "
            "or reinstall edge_bml"
        )
    candidates = [
        m
        for m in variants
        if (backend == "auto" or m.backend == backend)
        and (precision == "auto" or m.precision == precision)
        and (precision != "auto" or m.accuracy_passed)
    ]
    if not candidates:
        have = ", ".join(f"{m.name} ({m.backend}, {m.precision})" for m in variants)
        hint = ""
        backends = sorted({m.backend for m in variants})
        if backend != "auto" and backend not in backends:
            stage = {"pose_detection": "pose", "pose_landmarks": "pose"}.get(task, task)
            hint = (
                f"; {task} has no {backend} variant: run that stage on another runtime, e.g. "
                f"--backend {backend} --stage {stage}={backends[0]}"
            )
        raise ModelNotFoundError(
            f"no {task} model for backend={backend} precision={precision}; available: {have}{hint}"
        )
    installed = [m for m in candidates if is_available(m.backend)]
    if not installed:
        raise ModelNotFoundError(
            f"{task}: the runtimes of {[m.name for m in candidates]} are not installed; "
            "pip install ai-edge-litert, onnxruntime or openvino"
        )

    if len(installed) == 1:
        only = installed[0]
        return VariantChoice(
            only, "only", f"the only installed {task} variant for backend={backend}, precision={precision}"
        )
    profile, problem = _this_machines_profile()
    if profile is None or any(profile.latency(m, threads) is None for m in installed):
        profile = measure_on_first_use(task, installed, threads=threads or 2) or profile
    measured = {m.name: profile.latency(m, threads) for m in installed} if profile is not None else {}
    if measured and all(value is not None for value in measured.values()):

        def latency_of(m: ModelManifest) -> float | None:
            return measured[m.name]

        basis = "profile"
        why = f"fastest of {len(installed)} by this machine's latencies ({profile.path}, {profile.measured_at})"
    else:

        def latency_of(m: ModelManifest) -> float | None:
            return _latency(m, threads)

        basis = "shipped"
        missing = (
            ""
            if profile is None
            else f"; this machine's profile lacks {sorted(k for k, v in measured.items() if v is None)}"
        )
        why = (
            f"fastest of {len(installed)} by latencies measured on another CPU{missing}{problem}; "
            "measuring on first use is off (EDGE_BML_MEASURE=0): run `edge-bml bench` to pick by this machine's"
        )

    def rank(m: ModelManifest) -> tuple:
        latency = latency_of(m)
        return (latency is None, latency or 0.0, m.precision != "fp32", _UNMEASURED_ORDER[m.backend], m.name)

    return VariantChoice(min(installed, key=rank), basis, why)


@dataclass
class LoadedModel:
    """A manifest and the backend running its model file."""

    manifest: ModelManifest
    backend: Backend

    def close(self) -> None:
        self.backend.close()


def load_model(
    manifest: ModelManifest, *, backend: str | None = None, threads: int | None = None, batch: int | None = None
) -> LoadedModel:
    """Verify a variant's checksums and open it on its backend (``batch``: as ``open_backend``).

    Raises:
        ModelNotFoundError, ChecksumMismatchError, BackendUnavailableError, ModelLoadError.
    """
    manifest.verify()
    try:
        runtime = open_backend(manifest.model_path, backend=backend or manifest.backend, threads=threads, batch=batch)
    except EdgeBmlError as error:
        raise type(error)(f"{manifest.name}: {error}") from error
    return LoadedModel(manifest=manifest, backend=runtime)
