"""A tiny stderr progress bar for long jobs (no tqdm dependency)."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """Prints ``label  done/total  rate  eta  note`` at most every ``interval`` seconds."""

    def __init__(
        self, total: int, *, label: str, stream: TextIO | None = None, interval: float = 2.0, start: int = 0
    ) -> None:
        self.total = max(total, 1)
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.interval = interval
        self.done = start
        self._start_done = start
        self._t0 = time.monotonic()
        self._last = 0.0

    def update(self, n: int = 1, *, note: str = "") -> None:
        self.done += n
        now = time.monotonic()
        if now - self._last >= self.interval or self.done >= self.total:
            self._last = now
            rate = (self.done - self._start_done) / max(now - self._t0, 1e-9)
            eta = (self.total - self.done) / rate if rate > 0 else float("inf")
            bar = "#" * int(20 * self.done / self.total)
            print(
                f"\r{self.label} [{bar:<20}] {self.done}/{self.total} {rate:.2f}/s eta {eta:.0f}s {note}",
                end="",
                file=self.stream,
                flush=True,
            )

    def close(self) -> None:
        print(file=self.stream, flush=True)
