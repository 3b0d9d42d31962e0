"""The converters' quantization error, in a module of its own so each quantizer can raise it without
importing the others (``driver`` and ``litert_torch`` no longer import each other)."""

from __future__ import annotations

from edge_bml.errors import EdgeBmlError


class QuantizationError(EdgeBmlError):
    """The source cannot be quantized as asked (wrong format, no manifest, task mismatch)."""
