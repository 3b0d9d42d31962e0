"""What a training loop does around its model's step: seeding, the time budget, the learning rate, the update.

The trainers keep their own loops (epochs or steps, when to checkpoint) and call these, so that the
schedule, the budget rule and the optimiser update read the same in each.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Sequence
from typing import Any


def seed_torch(*, seed: int, threads: int | None = None) -> None:
    """Set torch's thread count (None: leave it) and seed before any weights are made: runs repeat.

    Raises:
        RuntimeError: torch refuses the thread count.
    """
    import torch

    if threads is not None:
        torch.set_num_threads(threads)
    torch.manual_seed(seed)


class RunClock:
    """Seconds trained in all (across resumes) and how far along a run is, by steps or by its time budget.

    With a budget the schedule follows max(step fraction, time fraction), so a run cut short by the
    clock still ends its decay.
    """

    def __init__(self, *, budget_minutes: float | None, seconds_before: float = 0.0) -> None:
        self.budget = None if budget_minutes is None else budget_minutes * 60
        self.seconds_before = seconds_before
        self._started = time.monotonic()

    @property
    def session_seconds(self) -> float:
        """Seconds since this process started the clock."""
        return time.monotonic() - self._started

    @property
    def seconds(self) -> float:
        """Seconds trained in all: earlier sessions (from the checkpoint) and this one."""
        return self.seconds_before + self.session_seconds

    def fraction(self, step: int, total: int) -> float:
        """How far along the run is (0..1 and beyond): ``step / total``, or the budget spent if further."""
        done = step / total
        return done if self.budget is None else max(done, self.seconds / self.budget)

    def out_of_time(self) -> bool:
        """Whether the budget is spent (never without one)."""
        return self.budget is not None and self.seconds > self.budget


def warmup_cosine_lr(peak: float, *, step: int, progress: float, warmup_steps: int) -> float:
    """Linear warm-up over the first ``warmup_steps``, then cosine decay to 2% over the run's ``progress`` (0..1).

    Following progress rather than steps lets a time budget shorten the schedule (detector, parser).
    """
    warm = min(1.0, (step + 1) / warmup_steps)
    return peak * warm * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0))))


def warmup_cosine_scale(step: int, *, total: int) -> float:
    """Scale of the base rates: linear warm-up over the first 5% of ``total`` steps, then cosine decay to 0.

    By steps alone (the embedder's schedule): a resumed run of another length follows its new total.
    """
    warmup = max(1, total // 20)
    if step < warmup:
        return (step + 1) / warmup
    return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))


def set_learning_rates(optimiser: Any, rates: float | Sequence[float]) -> None:
    """Set one rate on every parameter group, or one rate per group, in order.

    Raises:
        ValueError: ``rates`` is a sequence of another length than the optimiser's groups.
    """
    if isinstance(rates, int | float):
        rates = [rates] * len(optimiser.param_groups)
    for group, rate in zip(optimiser.param_groups, rates, strict=True):
        group["lr"] = rate


def optimiser_step(optimiser: Any, loss: Any, *, clip: Sequence[Any] | None = None, max_norm: float = 10.0) -> None:
    """Back-propagate ``loss`` and update, first clipping the gradient norm of ``clip``'s parameters if given.

    Raises:
        RuntimeError: torch cannot back-propagate (e.g. the loss holds no gradient).
    """
    import torch

    optimiser.zero_grad()
    loss.backward()
    if clip is not None:
        torch.nn.utils.clip_grad_norm_(clip, max_norm)
    optimiser.step()


class PercentBar:
    """A tqdm bar in percent of the run (steps or the time budget, whichever is further along)."""

    def __init__(self, *, label: str = "training") -> None:
        from tqdm import tqdm

        self._bar = tqdm(
            total=100.0, desc=label, file=sys.stderr, bar_format="{desc}: {percentage:5.1f}%|{bar}| {postfix}"
        )

    def show(self, fraction: float, note: str) -> None:
        """Move the bar to ``fraction`` of the run (capped at 100%) and show ``note`` beside it."""
        self._bar.n = round(100 * min(fraction, 1.0), 1)
        self._bar.set_postfix_str(note)

    def close(self) -> None:
        self._bar.close()
