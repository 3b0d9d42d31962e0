"""``training_log.jsonl``: one line of mean losses per epoch or checkpoint, copied into the exported variant.

A log that outlives a run shows how the weights were reached; resumed runs append to it, fresh runs restart it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

LOG_FILE = "training_log.jsonl"


class TrainingLog:
    """Sums the loss and its ``parts`` step by step; ``write`` appends their means and the caller's fields."""

    def __init__(self, path: Path, *, parts: Sequence[str]) -> None:
        self.path = path
        self._sums = dict.fromkeys(("loss", *parts), 0.0)
        self.count = 0

    def restart(self) -> None:
        """Forget an earlier run's lines (a fresh run, not a resumed one)."""
        if self.path.exists():
            self.path.unlink()

    def add(self, loss: float, parts: Mapping[str, float]) -> None:
        """Count one step: its loss and its named ``parts``.

        Raises:
            KeyError: ``parts`` lacks one of the names given at construction.
        """
        for name in self._sums:
            self._sums[name] += loss if name == "loss" else parts[name]
        self.count += 1

    def write(self, **fields: object) -> None:
        """Append the means since the last line (4 decimals), then ``fields``; start new sums.

        Raises:
            ZeroDivisionError: no step was added since the last line.
            OSError: the log cannot be written.
        """
        entry: dict[str, object] = {name: round(total / self.count, 4) for name, total in self._sums.items()}
        entry.update(fields)
        with self.path.open("a") as log:
            log.write(json.dumps(entry) + "\n")
        self._sums = dict.fromkeys(self._sums, 0.0)
        self.count = 0


def copy_log(path: Path, folder: Path) -> None:
    """Copy the log at ``path`` (if there is one) into an export's ``folder`` as ``training_log.jsonl``.

    Raises:
        OSError: the log cannot be read or the copy written.
    """
    if path.is_file():
        (folder / LOG_FILE).write_text(path.read_text())
