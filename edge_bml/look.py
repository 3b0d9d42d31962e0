"""The result of one look: who is in the photo, whether it was usable, and each article's matches."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edge_bml.catalog.matches import Matches
from edge_bml.colour import hex_colour


@dataclass(frozen=True)
class Article:
    """One fashion article found on the person, with the catalog's nearest products of its category."""

    category: str
    box: np.ndarray
    score: float
    matches: Matches = field(default_factory=lambda: Matches(()))
    note: str = ""
    colour: np.ndarray | None = None  # the worn garment's colour, CIELAB
    shown: bool = True  # False: under its category's shown threshold (only with all_detections)

    def to_json(self) -> dict[str, Any]:
        data = {
            "category": self.category,
            "box": [round(float(v), 1) for v in self.box],
            "score": round(self.score, 4),
            "shown": self.shown,
            "matches": [m.to_json() for m in self.matches],
        }
        if self.colour is not None:
            data["colour"] = {"hex": hex_colour(self.colour), "lab": [round(float(v), 1) for v in self.colour]}
        if self.note:
            data["note"] = self.note
        return data


@dataclass(frozen=True)
class Look:
    """Everything edge_bml says about one photo.

    ``stopped`` is None when every stage ran; otherwise it says why the look stopped after the
    gate and what the user can do ("the feet are out of frame: step back ...").
    """

    shot: str
    facing: str | None
    reasons: list[str]
    person_box: np.ndarray | None
    keypoints: np.ndarray | None
    articles: list[Article]
    timings_ms: dict[str, float]
    stopped: str | None = None
    file: str | None = None

    def to_json(self) -> dict[str, Any]:
        keypoints = None
        if self.keypoints is not None:
            keypoints = [[round(float(x), 1), round(float(y), 1), round(float(v), 3)] for x, y, v in self.keypoints]
        return {
            "file": self.file,
            "shot": self.shot,
            "facing": self.facing,
            "reasons": self.reasons,
            "stopped": self.stopped,
            "person_box": None if self.person_box is None else [round(float(v), 1) for v in self.person_box],
            "keypoints": keypoints,
            "articles": [a.to_json() for a in self.articles],
            "timings_ms": {k: round(v, 2) for k, v in self.timings_ms.items()},
        }
