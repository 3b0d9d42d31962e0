"""Search results: the nearest products of one query."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from edge_bml.colour import hex_colour


@dataclass(frozen=True)
class Match:
    """One product found: its id, score and metadata.

    ``score`` is the cosine similarity, or after a colour re-rank the combined score, in which case
    ``similarity`` keeps the cosine. ``colour`` is the product's garment colour in CIELAB (None in
    catalogs built before colours were stored).
    """

    id: str
    score: float
    category: str
    title: str
    file: str
    attributes: dict[str, str] = field(default_factory=dict)  # the product table's other columns
    colour: tuple[float, float, float] | None = None
    similarity: float | None = None

    def to_json(self) -> dict[str, Any]:
        data = {
            "id": self.id,
            "score": round(self.score, 6),
            "category": self.category,
            "title": self.title,
            "file": self.file,
        }
        if self.attributes:
            data["attributes"] = dict(self.attributes)
        if self.colour is not None:
            data["colour"] = {"hex": hex_colour(self.colour), "lab": [round(v, 1) for v in self.colour]}
        return data


@dataclass(frozen=True)
class Matches:
    """The best products for one query, highest score first."""

    items: tuple[Match, ...]

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self):
        return iter(self.items)

    def __getitem__(self, index: int) -> Match:
        return self.items[index]

    @property
    def ids(self) -> list[str]:
        return [m.id for m in self.items]
