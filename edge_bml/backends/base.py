"""The narrow interface every inference runtime sits behind: load, specs, run, close."""

from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge_bml.errors import BackendUnavailableError, InputSpecError, ModelNotFoundError

# Numeric precisions a backend can be told to compute float layers in. ``fp32`` is every variant's
# default: a runtime must never down-cast on its own (OpenVINO's CPU plugin picks bf16 by default on
# CPUs that have it, which changes every figure measured with it).
COMPUTE_PRECISIONS = ("fp32", "bf16")


@dataclass(frozen=True)
class TensorSpec:
    """Name, shape and dtype of one model input or output.

    ``scale`` and ``zero_point`` are set for quantized (int8/uint8) tensors only.
    """

    name: str
    shape: tuple[int, ...]
    dtype: np.dtype
    scale: float | None = None
    zero_point: int | None = None


class Backend(abc.ABC):
    """One loaded model on one runtime. Use as a context manager or call ``close``.

    ``compute_precision`` is the precision the runtime computes float layers in: ``fp32`` unless
    ``bf16`` is asked for, and never left to the runtime's own default. ``batch`` sets the first
    dimension of every input (a model exported for one image run on two at once); None keeps the
    model's own shapes.
    """

    name: str = "backend"
    supported_precisions: tuple[str, ...] = ("fp32",)

    def __init__(
        self, path: str | Path, *, threads: int | None = None, compute_precision: str = "fp32", batch: int | None = None
    ) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise ModelNotFoundError(
                f"model file not found: {self.path}. Run `edge-bml-convert fetch blazepose` "
                "or check the path in the model's manifest."
            )
        if threads is not None and threads < 1:
            raise ValueError(f"threads must be >= 1, got {threads}")
        if batch is not None and batch < 1:
            raise ValueError(f"batch must be >= 1, got {batch}")
        if compute_precision not in self.supported_precisions:
            raise BackendUnavailableError(
                f"{self.name} cannot compute in {compute_precision!r}; it offers {self.supported_precisions}"
            )
        self.threads = threads
        self.compute_precision = compute_precision
        self.batch = batch

    @property
    @abc.abstractmethod
    def inputs(self) -> list[TensorSpec]:
        """Input tensors, in the model's order."""

    @property
    @abc.abstractmethod
    def outputs(self) -> list[TensorSpec]:
        """Output tensors, in the model's order."""

    @abc.abstractmethod
    def _run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run validated inputs; return outputs by name."""

    def run(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run the model on a dict of input arrays and return a dict of output arrays.

        Raises:
            InputSpecError: an input is missing, unknown, or of the wrong shape or dtype.
        """
        return self._run(self._validate(feeds))

    @abc.abstractmethod
    def close(self) -> None:
        """Release the runtime's resources; the backend cannot run afterwards."""

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _validate(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        specs = {s.name: s for s in self.inputs}
        unknown = set(feeds) - set(specs)
        missing = set(specs) - set(feeds)
        if unknown or missing:
            raise InputSpecError(
                f"{self.path.name}: inputs must be exactly {sorted(specs)}; "
                f"missing {sorted(missing)}, unknown {sorted(unknown)}"
            )
        checked = {}
        for name, array in feeds.items():
            spec = specs[name]
            array = np.asarray(array)
            if array.dtype != spec.dtype:
                raise InputSpecError(
                    f"{self.path.name}: input {name!r} must be {spec.dtype}, got {array.dtype}; "
                    "preprocess with the model's manifest"
                )
            if len(array.shape) != len(spec.shape) or any(
                want > 0 and want != got for want, got in zip(spec.shape, array.shape)
            ):
                raise InputSpecError(
                    f"{self.path.name}: input {name!r} must have shape {spec.shape}, got {array.shape}"
                )
            checked[name] = np.ascontiguousarray(array)
        return checked
