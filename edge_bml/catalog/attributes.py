"""Product attributes (the product table's other columns) and the filters shoppers set on them.

Every column of the product table other than id, file, category (and title, where one is named) is kept
with each product as an attribute (``products.jsonl`` ``attributes``; catalogs built before this kept
the same columns as ``extra``). A filter (``Where``) maps columns to the values accepted: a product
passes when, for every column, its value is one of that column's values (AND across columns, OR
within one). Values compare case-insensitively with surrounding spaces ignored, so ``kids=false``
matches ``False``. ``COLUMN=*`` accepts any value: it lifts a catalog's default filter on that column.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from edge_bml.errors import CatalogFilterError

# column -> values accepted (any one of them); an empty mapping filters nothing.
Where = Mapping[str, tuple[str, ...]]
ANY = "*"


def row_attributes(row: Mapping[str, Any]) -> dict[str, str]:
    """A product row's attributes (``attributes``, or ``extra`` in catalogs built before attributes)."""
    found = row.get("attributes")
    if found is None:
        found = row.get("extra") or {}
    return {str(k): "" if v is None else str(v) for k, v in found.items()}


def normalise(value: str) -> str:
    """The form values are compared in: case folded, surrounding spaces stripped."""
    return str(value).strip().casefold()


def parse_where(texts: Iterable[str] | None) -> dict[str, tuple[str, ...]]:
    """``["kids=False", "gender=women,unisex"]`` -> ``{"kids": ("False",), "gender": ("women", "unisex")}``.

    A column given twice keeps the values both accept (AND); ``COLUMN=*`` stands alone.

    Raises:
        CatalogFilterError: an item is not ``COLUMN=V1[,V2...]`` or names no value.
    """
    where: dict[str, tuple[str, ...]] = {}
    for text in texts or ():
        column, sep, values_text = str(text).partition("=")
        column = column.strip()
        values = tuple(dict.fromkeys(v.strip() for v in values_text.split(",") if v.strip()))
        if not sep or not column or not values:
            raise CatalogFilterError(f"filter {text!r}: expected COLUMN=VALUE[,VALUE...], e.g. kids=False")
        if ANY in values and len(values) > 1:
            raise CatalogFilterError(f"filter {text!r}: '*' (any value) stands alone")
        if column in where:
            if ANY in where[column]:
                where[column] = values
            elif ANY not in values:
                kept = {normalise(v) for v in values}
                where[column] = tuple(v for v in where[column] if normalise(v) in kept)
        else:
            where[column] = values
    return where


def where_items(where: Where | None) -> list[str]:
    """A filter as ``COLUMN=V1,V2`` strings, columns sorted (what ``parse_where`` reads back)."""
    return [f"{column}={','.join(values)}" for column, values in sorted((where or {}).items())]


def where_text(where: Where | None) -> str:
    """A filter for people: ``kids=False and gender=women or unisex``."""
    return " and ".join(f"{column}={' or '.join(values)}" for column, values in sorted((where or {}).items()))


def combine(default: Where | None, given: Where | None, *, drop_any: bool = True) -> dict[str, tuple[str, ...]]:
    """``given`` over ``default`` column by column; a column set to ``*`` is dropped (no filter on it), or
    kept as ``*`` without ``drop_any`` (to lift a default further down)."""
    merged = {**(default or {}), **(given or {})}
    return {column: tuple(values) for column, values in merged.items() if not drop_any or ANY not in values}


class AttributeIndex:
    """Which product keys carry which attribute values; answers a filter with the keys it keeps."""

    def __init__(self, rows: Iterable[Mapping[str, Any]]) -> None:
        self._keys: dict[str, dict[str, list[int]]] = {}
        self._shown: dict[str, Counter] = {}
        for row in rows:
            key = int(row["key"])
            for column, value in row_attributes(row).items():
                self._keys.setdefault(column, {}).setdefault(normalise(value), []).append(key)
                self._shown.setdefault(column, Counter())[value] += 1
        self._cache: dict[tuple, np.ndarray] = {}

    @property
    def columns(self) -> list[str]:
        return sorted(self._keys)

    def values(self, column: str) -> dict[str, int]:
        """Each value of ``column`` as written in the table, with its product count, most common first.

        Raises:
            CatalogFilterError: the catalog has no such column.
        """
        self.check({column: (ANY,)})
        return dict(self._shown[column].most_common())

    def check(self, where: Where | None) -> None:
        """Raise unless every column of ``where`` is an attribute of the catalog.

        Raises:
            CatalogFilterError: a column the catalog lacks (the error lists the columns it has).
        """
        missing = sorted(column for column in (where or {}) if column not in self._keys)
        if missing:
            has = ", ".join(self.columns) if self._keys else "none"
            raise CatalogFilterError(
                f"the catalog has no attribute column {', '.join(repr(m) for m in missing)} to filter on; "
                f"its attribute columns are: {has}"
            )

    def keys(self, where: Where) -> np.ndarray:
        """The sorted product keys that pass ``where`` (every key of a filter's columns' values).

        Raises:
            CatalogFilterError: a column the catalog lacks.
        """
        self.check(where)
        signature = tuple(sorted((c, tuple(sorted({normalise(v) for v in vs}))) for c, vs in where.items()))
        found = self._cache.get(signature)
        if found is None:
            kept: np.ndarray | None = None
            for column, values in signature:
                by_value = self._keys[column]
                keys = np.asarray(sorted(k for v in values for k in by_value.get(v, ())), np.int64)
                kept = keys if kept is None else np.intersect1d(kept, keys, assume_unique=True)
            found = kept if kept is not None else np.zeros(0, np.int64)
            self._cache[signature] = found
        return found

    def unknown_values(self, where: Where) -> dict[str, list[str]]:
        """Per column, the values of ``where`` that no product carries (a likely typing slip)."""
        return {
            column: unknown
            for column, values in where.items()
            if (unknown := [v for v in values if normalise(v) not in self._keys.get(column, {})])
        }
