"""Per-machine latency profiles: what each model variant costs on *this* CPU.

The latencies in the shipped manifests were measured on the machine that converted the models.
``edge-bml bench`` measures every installed variant here and stores the figures in the user's
cache folder, keyed by ``MachineIdentity.key`` (CPU model, ISA extensions, runtime versions).
``select_variant``'s ``auto`` uses the profile when it covers every candidate.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from edge_bml.errors import EdgeBmlError
from edge_bml.machine import MachineIdentity, current_machine
from edge_bml.manifest import ModelManifest, write_json_atomic

PROFILE_SCHEMA = 1


class LatencyProfileError(EdgeBmlError, ValueError):
    """A latency profile file is unreadable or of another schema; rerun ``edge-bml bench``."""


def cache_dir() -> Path:
    """``$EDGE_BML_CACHE``, else ``$XDG_CACHE_HOME/edge_bml``, else ``~/.cache/edge_bml``."""
    override = os.environ.get("EDGE_BML_CACHE")
    if override:
        return Path(override)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "edge_bml"


def profile_path(machine: MachineIdentity | None = None) -> Path:
    """Where this machine's profile lives."""
    machine = machine or current_machine()
    return cache_dir() / "profiles" / f"{machine.key}.json"


@dataclass
class LatencyProfile:
    """Median milliseconds per variant and thread count, measured on one machine.

    ``latency_ms[variant_name]`` holds ``sha256`` (the model file measured) and ``threads_N`` figures.
    """

    machine: dict
    measured_at: str = ""
    latency_ms: dict[str, dict] = field(default_factory=dict)
    path: Path | None = None

    def latency(self, manifest: ModelManifest, threads: int | None) -> float | None:
        """The figure for ``manifest`` at ``threads`` (default 2), or None where the variant (or this exact
        model file) was not measured."""
        entry = self.latency_ms.get(manifest.name)
        if not entry or entry.get("sha256") != manifest.sha256.get(manifest.model_file):
            return None
        value = entry.get(f"threads_{threads or 2}")
        return float(value) if isinstance(value, (int, float)) else None

    def record(self, manifest: ModelManifest, threads: int, milliseconds: float) -> None:
        entry = self.latency_ms.setdefault(manifest.name, {})
        sha = manifest.sha256.get(manifest.model_file)
        if entry.get("sha256") != sha:
            entry.clear()
            entry["sha256"] = sha
        entry[f"threads_{threads}"] = round(float(milliseconds), 3)

    def to_json(self) -> dict:
        return {
            "schema": PROFILE_SCHEMA,
            "machine": self.machine,
            "measured_at": self.measured_at,
            "latency_ms": self.latency_ms,
        }


def new_profile(machine: MachineIdentity | None = None) -> LatencyProfile:
    """An empty profile for this machine."""
    machine = machine or current_machine()
    return LatencyProfile(machine=machine.to_json(), path=profile_path(machine))


def load_profile(path: str | Path | None = None) -> LatencyProfile | None:
    """This machine's profile (or the one at ``path``); None where none was measured.

    Raises:
        LatencyProfileError: the file exists but is not a profile edge_bml can read.
    """
    path = Path(path) if path is not None else profile_path()
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise LatencyProfileError(f"{path}: unreadable latency profile ({error}); rerun `edge-bml bench`") from error
    if (
        not isinstance(data, dict)
        or data.get("schema") != PROFILE_SCHEMA
        or not isinstance(data.get("latency_ms"), dict)
    ):
        raise LatencyProfileError(f"{path}: not a schema-{PROFILE_SCHEMA} latency profile; rerun `edge-bml bench`")
    return LatencyProfile(
        machine=data.get("machine", {}),
        measured_at=str(data.get("measured_at", "")),
        latency_ms=data["latency_ms"],
        path=path,
    )


def load_or_new_profile(machine: MachineIdentity | None = None) -> LatencyProfile:
    """This machine's profile, or an empty one where none was measured or the file is unreadable (a new
    measurement then replaces it)."""
    try:
        return load_profile() or new_profile(machine)
    except LatencyProfileError:
        return new_profile(machine)


def save_profile(profile: LatencyProfile) -> Path:
    """Write the profile atomically to its path (this machine's by default); returns the path."""
    profile.measured_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    path = profile.path or profile_path()
    write_json_atomic(path, profile.to_json())
    profile.path = path
    return path
