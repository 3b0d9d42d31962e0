"""Which runtime, precision and threads run a model: one type for every factory (MediaPipe's BaseOptions).

A field left None inherits: a stage's override falls back to the look's choice, which falls back to
``auto`` (the fastest validated variant on this machine) and the runtime's own thread count.
"""

from __future__ import annotations

from dataclasses import dataclass

from edge_bml.backends import BACKEND_NAMES
from edge_bml.errors import BackendUnavailableError

PRECISIONS = ("auto", "fp32", "fp16", "int8")
# Inference threads per model at most: far past any CPU this runs on, and far below the counts that make a
# runtime crash or hang creating its thread pool.
MAX_THREADS = 256


@dataclass(frozen=True)
class RuntimeChoice:
    """``backend`` (litert, onnxruntime, openvino or auto), ``precision`` (fp32, fp16, int8 or auto), ``threads``.

    Raises:
        BackendUnavailableError: an unknown backend or precision, or threads outside 1..MAX_THREADS.
    """

    backend: str | None = None
    precision: str | None = None
    threads: int | None = None

    def __post_init__(self) -> None:
        if self.backend not in (None, "auto", *BACKEND_NAMES):
            raise BackendUnavailableError(f"unknown backend {self.backend!r}; choose one of {BACKEND_NAMES} or auto")
        if self.precision not in (None, *PRECISIONS):
            raise BackendUnavailableError(f"unknown precision {self.precision!r}; choose one of {PRECISIONS}")
        if self.threads is not None and not 1 <= self.threads <= MAX_THREADS:
            raise BackendUnavailableError(f"threads must be 1 to {MAX_THREADS}, got {self.threads}")

    def over(self, base: RuntimeChoice) -> RuntimeChoice:
        """This choice where it says something, ``base`` where it does not."""
        return RuntimeChoice(
            self.backend if self.backend is not None else base.backend,
            self.precision if self.precision is not None else base.precision,
            self.threads if self.threads is not None else base.threads,
        )

    @property
    def variant_query(self) -> dict:
        """Keyword arguments of ``choose_variant``: unset backend and precision mean auto."""
        return {"backend": self.backend or "auto", "precision": self.precision or "auto", "threads": self.threads}
