"""Photo-level retrieval figures that any look system can be scored on, whatever it detects.

Per photo: the categories labelled on the person (restricted to those the catalog sells) against the
categories of every product the system returned. ``coverage``: share of the labelled categories
that some returned product belongs to; ``precision``: share of returned products whose category is
labelled on the photo. edge_bml's look and the naive whole-image baseline are compared on these.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np


class PhotoRetrievalScore:
    """Accumulates per-photo coverage and precision; photos with no labelled catalog category are skipped."""

    def __init__(self, catalog_categories: Iterable[str]) -> None:
        self.catalog_categories = set(catalog_categories)
        self.coverage: list[float] = []
        self.precision: list[float] = []

    def add(self, labelled: Iterable[str], returned: list[str]) -> None:
        """One photo: its labelled categories and the category of each product returned for it."""
        wanted = set(labelled) & self.catalog_categories
        if not wanted:
            return
        self.coverage.append(len(wanted & set(returned)) / len(wanted))
        self.precision.append(float(np.mean([c in wanted for c in returned])) if returned else 0.0)

    def summary(self) -> dict:
        def mean(values: list[float]) -> float | None:
            return round(float(np.mean(values)), 4) if values else None

        return {
            "photos_scored": len(self.coverage),
            "labelled_category_coverage": mean(self.coverage),
            "returned_product_precision": mean(self.precision),
        }
