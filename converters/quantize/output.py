"""What a format's quantizer hands back to the ``quantize`` command: its files and how it made them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class QuantizedOutput:
    """The INT8 model written into the output folder.

    ``model_file`` is the file a backend opens; ``files`` every file the model needs (all get a
    sha256 in the manifest); ``route`` says in words how it was made; ``settings`` records the
    quantizer's settings (and any measurements that chose them) for the manifest.
    """

    model_file: str
    files: list[str]
    route: str
    settings: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class KeepFloat:
    """Which layers stay in float (mixed precision), by name and by size.

    ``patterns``: regular expressions on layer names (OpenVINO/ONNX node names; TFLite op scopes,
    which are the op's output tensor names each followed by ``;``). ``max_size``: layers whose
    output feature map is at most ``max_size`` x ``max_size`` (and the flattened heads after them)
    stay float; such low-resolution tails cost little time but carry the fine coordinates of
    regression heads, which INT8 rounds away.
    """

    patterns: tuple[str, ...] = ()
    max_size: int | None = None

    def small(self, height: int, width: int) -> bool:
        """Whether a feature map of this size stays float."""
        return self.max_size is not None and 0 < height * width <= self.max_size * self.max_size

    def describe(self) -> dict[str, Any]:
        return {"patterns": list(self.patterns), "max_size": self.max_size}


ALL_INT8 = KeepFloat()
