"""Search results: the nearest products of one query."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Match:
    """One product found: its id, cosine similarity and metadata."""

    id: str
    score: float
    category: str
    title: str
    file: str
    extra: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "score": round(self.score, 6),
            "category": self.category,
            "title": self.title,
            "file": self.file,
        }


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
