"""Per-stage latency, measured with ``time.perf_counter_ns`` and reported in milliseconds."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

from edge_bml.errors import JobTimeoutError


class StageTimer:
    """Collects the wall time of named stages; a stage timed twice adds up.

    With a ``deadline`` (a ``time.monotonic()`` value), a stage that would start after it raises
    ``JobTimeoutError`` instead: a server worker stops a look that ran out of time at its next stage.
    """

    def __init__(self, *, deadline: float | None = None) -> None:
        self._start = time.perf_counter_ns()
        self._ns: dict[str, int] = {}
        self.deadline = deadline

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time the body of a ``with`` block under ``name``.

        Raises:
            JobTimeoutError: the timer's deadline has passed before the stage starts.
        """
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise JobTimeoutError(f"the look ran out of time before its {name} stage")
        begin = time.perf_counter_ns()
        try:
            yield
        finally:
            self._ns[name] = self._ns.get(name, 0) + time.perf_counter_ns() - begin

    def add(self, name: str, milliseconds: float) -> None:
        """Record a time measured elsewhere (for example by a nested timer)."""
        self._ns[name] = self._ns.get(name, 0) + int(milliseconds * 1e6)

    def as_dict(self, *, total: bool = True) -> dict[str, float]:
        """Milliseconds per stage, in the order first seen, with ``total`` since creation last."""
        result = {name: ns / 1e6 for name, ns in self._ns.items()}
        if total:
            result["total"] = (time.perf_counter_ns() - self._start) / 1e6
        return result


def latency_percentiles(values: list[float]) -> dict[str, float]:
    """p50 and p95 of millisecond timings, rounded to 0.01 ms (zeros for no values)."""
    if not values:
        return {"p50": 0.0, "p95": 0.0}
    return {"p50": round(float(np.percentile(values, 50)), 2), "p95": round(float(np.percentile(values, 95)), 2)}
