"""Progress bars for long jobs: tqdm (well kept, already installed through OpenVINO), one shape everywhere.

``Progress(total, label=...)`` / ``update(n, note=...)`` / ``close()`` is the interface every long job uses;
on a terminal it redraws in place, in a log it writes a line every ``interval`` seconds.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TextIO

from tqdm import tqdm


class Progress:
    """``label [bar] done/total rate eta note`` on stderr."""

    def __init__(
        self, total: int, *, label: str, stream: TextIO | None = None, interval: float = 2.0, start: int = 0
    ) -> None:
        stream = stream if stream is not None else sys.stderr
        tty = hasattr(stream, "isatty") and stream.isatty()
        self._bar = tqdm(
            total=max(total, 1),
            initial=start,
            desc=label,
            file=stream,
            mininterval=0.2 if tty else interval,
            dynamic_ncols=tty,
            ncols=None if tty else 100,
            leave=True,
        )
        self.total = self._bar.total
        self.done = start

    def update(self, n: int = 1, *, note: str = "") -> None:
        self.done += n
        if note:
            self._bar.set_postfix_str(note, refresh=False)
        self._bar.update(n)

    def close(self) -> None:
        self._bar.close()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def progress_callback(label: str) -> Callable[[int, int], None]:
    """An ``on_progress(done, total)`` callback drawing a ``Progress`` bar, made at the first call and
    closed when ``done`` reaches ``total``."""
    bar: list[Progress] = []

    def show(done: int, total: int) -> None:
        if not bar:
            bar.append(Progress(total, label=label))
        bar[0].update(done - bar[0].done)
        if done >= total:
            bar[0].close()

    return show
