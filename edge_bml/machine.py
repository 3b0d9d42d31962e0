"""Which machine this is, in the terms that change inference speed and numerics.

A latency measured on one CPU says little about another: AVX2-only cores, AVX-512 with VNNI
(INT8 dot products), AMX, or ARM with NEON dot-product instructions rank the same variants
differently. ``current_machine()`` names the CPU, the ISA extensions that matter and the runtime
versions; its ``key`` names the latency profile measured here.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import json
import platform
from dataclasses import asdict, dataclass
from pathlib import Path

# The ISA extensions that decide which kernels the runtimes use, as /proc/cpuinfo spells them.
ISA_FLAGS = (
    "avx2",
    "fma",
    "avx512f",
    "avx512_vnni",
    "avx_vnni",
    "avx512_bf16",
    "amx_tile",
    "amx_int8",
    "amx_bf16",
    "asimd",
    "asimddp",
    "i8mm",
    "bf16",
    "sve",
)
RUNTIME_PACKAGES = ("ai-edge-litert", "tflite-runtime", "onnxruntime", "openvino", "usearch", "numpy")


@dataclass(frozen=True)
class MachineIdentity:
    """CPU model, architecture, the ISA extensions present, core count and runtime versions."""

    cpu: str
    arch: str
    isa: tuple[str, ...]
    cores: int
    runtimes: tuple[tuple[str, str], ...]

    @property
    def key(self) -> str:
        """A short stable name for this CPU + ISA + runtime versions (core count excluded: threads are chosen)."""
        data = json.dumps([self.cpu, self.arch, self.isa, self.runtimes])
        return hashlib.sha256(data.encode()).hexdigest()[:16]

    def describe(self) -> str:
        """One line for people, e.g. ``AMD EPYC (x86_64, 2 cores; avx2 fma avx512f avx512_vnni)``."""
        return f"{self.cpu} ({self.arch}, {self.cores} cores; {' '.join(self.isa) or 'no listed ISA extensions'})"

    def to_json(self) -> dict:
        data = asdict(self)
        data["isa"] = list(self.isa)
        data["runtimes"] = dict(self.runtimes)
        data["key"] = self.key
        return data


def _cpuinfo(text: str) -> tuple[str, set[str]]:
    model, flags = "", set()
    for line in text.splitlines():
        name, _, value = line.partition(":")
        name = name.strip().lower()
        if name in ("model name", "cpu model", "hardware") and not model:
            model = value.strip()
        elif name in ("flags", "features") and not flags:
            flags = set(value.split())
    return model, flags


def identify(cpuinfo: str | None = None) -> MachineIdentity:
    """Read this machine's identity (``cpuinfo`` text may be given, e.g. in tests)."""
    import os

    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text(errors="replace")
        except OSError:
            cpuinfo = ""
    model, flags = _cpuinfo(cpuinfo)
    runtimes = []
    for package in RUNTIME_PACKAGES:
        try:
            runtimes.append((package, importlib.metadata.version(package)))
        except importlib.metadata.PackageNotFoundError:
            continue
    return MachineIdentity(
        cpu=model or platform.processor() or "unknown CPU",
        arch=platform.machine(),
        isa=tuple(flag for flag in ISA_FLAGS if flag in flags),
        cores=os.cpu_count() or 1,
        runtimes=tuple(runtimes),
    )


@functools.cache
def current_machine() -> MachineIdentity:
    """This machine's identity, read once per process."""
    return identify()
