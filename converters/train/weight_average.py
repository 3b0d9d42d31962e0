"""An exponential moving average of a model's weights: the exported weights, steadier than the last step's.

Small batches and noisy pseudo-labels make the last step's weights wander; their average over the last
few hundred steps usually scores better and costs nothing at inference. The decay ramps up over the
first ``warmup`` updates, so early averages do not hold on to the starting weights.
"""

from __future__ import annotations

import math
from typing import Any


class WeightAverage:
    """EMA of every float entry of a model's ``state_dict`` (parameters and BatchNorm statistics).

    Raises:
        ValueError: ``decay`` is not in (0, 1) or ``warmup`` is not positive.
    """

    def __init__(self, model: Any, *, decay: float, warmup: int = 200) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"the weight-average decay is in (0, 1), e.g. 0.999; got {decay}")
        if warmup < 1:
            raise ValueError(f"the weight-average warm-up is a positive number of updates, got {warmup}")
        self.decay, self.warmup, self.updates = decay, warmup, 0
        self.average = {name: value.detach().clone() for name, value in model.state_dict().items()}

    def current_decay(self) -> float:
        """The decay used by the next update (it grows from 0 towards ``decay``)."""
        return self.decay * (1.0 - math.exp(-(self.updates + 1) / self.warmup))

    def update(self, model: Any) -> None:
        """Fold the model's current weights into the average (call after each optimiser step)."""
        import torch

        decay = self.current_decay()
        with torch.no_grad():
            for name, value in model.state_dict().items():
                kept = self.average[name]
                if kept.dtype.is_floating_point:
                    kept.mul_(decay).add_(value.detach(), alpha=1.0 - decay)
                else:
                    kept.copy_(value)
        self.updates += 1

    def copy_to(self, model: Any) -> None:
        """Load the averaged weights into ``model``."""
        model.load_state_dict(self.average)

    def state_dict(self) -> dict:
        """What a checkpoint keeps to resume the average."""
        return {"decay": self.decay, "warmup": self.warmup, "updates": self.updates, "average": self.average}

    def load_state_dict(self, state: dict) -> None:
        """Resume from :meth:`state_dict`'s output.

        Raises:
            KeyError: ``state`` misses an entry, or its average misses a weight of the model.
        """
        missing = set(self.average) - set(state["average"])
        if missing:
            raise KeyError(f"the saved weight average lacks {sorted(missing)[:3]}")
        self.decay, self.warmup, self.updates = float(state["decay"]), int(state["warmup"]), int(state["updates"])
        self.average = {name: state["average"][name].clone() for name in self.average}
