"""Training checkpoints: written atomically, read back to resume or export, refused when made with other options.

Every trainer keeps its own file name and progress keys (``epoch`` or ``step``, ``seconds``, ``history``);
what they share is here, so that a checkpoint is always whole and always records the config that made it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

from edge_bml.errors import EdgeBmlError

OPTIMISER = "optimiser"


def save_checkpoint(
    path: Path, *, config: Any, model: Any, optimiser: Any, optimiser_key: str = OPTIMISER, **progress: Any
) -> None:
    """Write the model, the optimiser, ``config`` (a dataclass, as a dict) and ``progress`` to ``path``.

    Written aside, then ``os.replace``d in: a run killed mid-write keeps its last whole checkpoint.
    ``optimiser_key`` keeps each trainer's own key, so that existing checkpoints still resume.

    Raises:
        OSError: the folder cannot be written.
    """
    state = {"model": model.state_dict(), optimiser_key: optimiser.state_dict(), "config": asdict(config), **progress}
    write_state(path, state)


def write_state(path: Path, state: Mapping[str, Any]) -> None:
    """``torch.save`` ``state`` aside, then ``os.replace`` it in: ``path`` is whole or not there.

    Raises:
        OSError: the folder cannot be written.
    """
    import torch

    tmp = path.with_suffix(".tmp")
    torch.save(dict(state), tmp)
    os.replace(tmp, path)


def load_checkpoint(path: Path) -> dict:
    """The saved state, on the CPU (checkpoints hold plain Python objects besides tensors).

    Raises:
        OSError: ``path`` cannot be read.
    """
    import torch

    return torch.load(path, map_location="cpu", weights_only=False)


def resume_state(path: Path, *, resume: bool, missing: type[EdgeBmlError] | None) -> dict | None:
    """The checkpoint to continue from, or None for a fresh run.

    ``missing`` is the error for ``--resume`` without a checkpoint; None starts afresh instead.

    Raises:
        EdgeBmlError: (``missing``) ``resume`` is asked and there is no checkpoint at ``path``.
    """
    if not resume:
        return None
    if not path.is_file():
        if missing is None:
            return None
        raise missing(f"--resume: no checkpoint at {path}")
    return load_checkpoint(path)


def exported_state(path: Path, *, missing: type[EdgeBmlError]) -> dict:
    """The checkpoint that ``--export-only`` exports.

    Raises:
        EdgeBmlError: (``missing``) there is no checkpoint at ``path``.
    """
    if not path.is_file():
        raise missing(f"no checkpoint at {path}: train first (see --work)")
    return load_checkpoint(path)


def same_options(
    saved: Mapping[str, Any],
    current: Mapping[str, Any],
    *,
    keys: Iterable[str] | None = None,
    ignore: Iterable[str] = (),
) -> bool:
    """Whether a checkpoint's config agrees with this run's on ``keys`` (default: every key but ``ignore``).

    Resuming weights trained under other options would silently mix two runs; callers raise their own error.
    """
    names = set(saved) | set(current) if keys is None else set(keys)
    return all(saved.get(k) == current.get(k) for k in names - set(ignore))


def restore(state: Mapping[str, Any], *, model: Any, optimiser: Any, optimiser_key: str = OPTIMISER) -> None:
    """Load a checkpoint's model and optimiser state into ``model`` and ``optimiser``.

    Raises:
        RuntimeError: the checkpoint's tensors do not fit the model (torch's message names them).
    """
    model.load_state_dict(state["model"])
    optimiser.load_state_dict(state[optimiser_key])
