"""Same kind of garment: are the products returned the kind of thing worn (a T-shirt for a T-shirt)?

A kind map (JSON) names the catalog's attribute column that holds the kind (``column``, e.g. the
clothing catalog's ``label``) and maps street-photo fine labels (CCP's ``t-shirt``, ``blouse``, ...)
to the catalog values that count as the same kind (``kinds``). An article counts when one of its fine
labels is mapped; its kinds are the union of its labels' (a box labelled blouse and sweater accepts
either). Fine labels not mapped (generic ones such as ``shoes`` or ``bag``, and those the catalog
cannot tell apart) are not counted. ``same_kind_at_5`` is the mean share of an article's top 5 that
are of its kinds; the chance figure is the share of its category's products that are (a random
product of the right category). ``kind_maps/clothing.json`` ships for the clothing catalog.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

import numpy as np

from edge_bml.catalog.attributes import normalise, row_attributes
from edge_bml.errors import EvaluationDataError

TOP = 5
DEFAULT_KIND_MAP = "clothing.json"


@dataclass(frozen=True)
class KindMap:
    """Which catalog column holds the kind, and which of its values each fine label accepts."""

    column: str
    kinds: dict[str, frozenset[str]]  # fine label -> accepted catalog values (normalised)
    source: str

    def kinds_of(self, fine_labels: Iterable[str]) -> frozenset[str]:
        """The catalog values an article of these fine labels accepts; empty: the article is not counted."""
        accepted: set[str] = set()
        for label in fine_labels:
            accepted |= self.kinds.get(normalise(label), frozenset())
        return frozenset(accepted)


def load_kind_map(path: str | Path | None = None) -> KindMap:
    """A kind map from ``path``, or the one shipped for the clothing catalog.

    Raises:
        EvaluationDataError: the file is missing, not JSON, or lacks ``column``/``kinds``.
    """
    if path is None:
        text, source = (files("edge_bml.evaluation") / "kind_maps" / DEFAULT_KIND_MAP).read_text("utf-8"), "clothing"
    else:
        path = Path(path)
        if not path.is_file():
            raise EvaluationDataError(f"kind map {path} not found")
        text, source = path.read_text(encoding="utf-8"), str(path)
    try:
        data = json.loads(text)
        column = data["column"]
        kinds = data["kinds"]
        if not isinstance(column, str) or not column or not isinstance(kinds, dict):
            raise TypeError("'column' must be a column name and 'kinds' an object")
        mapped = {}
        for label, values in kinds.items():
            if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
                raise TypeError(f"kinds[{label!r}] must be a non-empty list of catalog values")
            mapped[normalise(label)] = frozenset(normalise(v) for v in values)
    except (json.JSONDecodeError, KeyError, TypeError) as error:
        raise EvaluationDataError(
            f"kind map {source}: {error}; expected {{'column': NAME, 'kinds': {{fine label: [catalog values]}}}}"
        ) from error
    return KindMap(column=column, kinds=mapped, source=source)


class SameKindScore:
    """Accumulates, per counted article, the share of its top 5 of its kinds and that share by chance."""

    def __init__(self, kind_map: KindMap, rows: Iterable[dict]) -> None:
        self.kind_map = kind_map
        self._kind: dict[str, str] = {}
        self._by_category: dict[str, list[str]] = {}
        for row in rows:
            value = normalise(row_attributes(row).get(kind_map.column, ""))
            self._kind[row["id"]] = value
            self._by_category.setdefault(row["category"], []).append(value)
        self.has_column = any(self._kind.values())
        self.rows: dict[str, list[tuple[float, float]]] = {}
        self.not_counted = 0

    def chance(self, category: str, kinds: frozenset[str]) -> float:
        """The share of ``category``'s products whose kind is one of ``kinds``."""
        values = self._by_category.get(category, [])
        return sum(v in kinds for v in values) / len(values) if values else 0.0

    def add(self, category: str, fine_labels: Sequence[str], match_ids: Sequence[str]) -> bool:
        """One article: its category, fine labels and the ids of its matches, best first; False where it is
        not counted (no mapped label, or no match)."""
        kinds = self.kind_map.kinds_of(fine_labels)
        top = [self._kind.get(pid, "") for pid in match_ids[:TOP]]
        if not kinds or not top:
            self.not_counted += 1
            return False
        ours = sum(kind in kinds for kind in top) / len(top)
        label = "+".join(sorted(normalise(f) for f in fine_labels if normalise(f) in self.kind_map.kinds))
        self.rows.setdefault(label, []).append((ours, self.chance(category, kinds)))
        return True

    def result(self) -> dict[str, Any]:
        def figures(values: list[tuple[float, float]]) -> dict[str, Any]:
            ours, chance = (float(np.mean(column)) for column in zip(*values))
            return {"articles": len(values), "same_kind_at_5": round(ours, 4), "chance": round(chance, 4)}

        everything = [row for rows in self.rows.values() for row in rows]
        overall = figures(everything) if everything else {"articles": 0, "same_kind_at_5": None, "chance": None}
        return {
            "same_kind_at_5": overall["same_kind_at_5"],
            "same_kind_chance": overall["chance"],
            "same_kind_articles": overall["articles"],
            "same_kind_not_counted": self.not_counted,
            "same_kind_map": self.kind_map.source,
            "same_kind_column": self.kind_map.column,
            "same_kind_per_label": {label: figures(values) for label, values in sorted(self.rows.items())},
        }


def same_kind_score(catalog, kind_map: KindMap) -> tuple[SameKindScore | None, str | None]:
    """A ``SameKindScore`` over ``catalog``'s products, or (None, why) where no product has the map's column."""
    score = SameKindScore(kind_map, catalog.products.values())
    if not score.has_column:
        columns = ", ".join(catalog.attributes.columns) or "none"
        return None, (
            f"the catalog's products have no {kind_map.column!r} column (map {kind_map.source}); its attribute "
            f"columns are: {columns}; pass --kind-map FILE naming one"
        )
    return score, None


def print_same_kind(figures: dict) -> None:
    """The same-kind figures, overall and per fine label."""
    if figures.get("same_kind_at_5") is None:
        why = figures.get("same_kind_note") or "no article of a mapped fine label was scored"
        print(f"same kind of garment: {why}")
        return
    print(
        f"same kind of garment @5 {figures['same_kind_at_5']:.3f} (chance {figures['same_kind_chance']:.3f}) over "
        f"{figures['same_kind_articles']} articles ({figures['same_kind_not_counted']} of unmapped labels not counted; "
        f"map {figures['same_kind_map']}, column {figures['same_kind_column']!r})"
    )
    for label, row in figures["same_kind_per_label"].items():
        print(f"  {label:<18} n={row['articles']:<4} same kind {row['same_kind_at_5']:.3f}  chance {row['chance']:.3f}")
