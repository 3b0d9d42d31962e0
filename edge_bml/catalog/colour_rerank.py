"""Colour in the match: the nearest products by appearance, re-ranked so the colour worn counts.

The embedder finds products that look alike; the ``candidates`` nearest (within the article's
category) are then ordered by ``cosine - weight * ΔE76 / 100``, where ΔE76 is the CIELAB distance
between the garment's colour and the product's. ``weight`` 0 keeps the embedder's order. The
catalog's default weight was tuned on CCP val (README, *Look-alike matches*) and is recorded in
``catalog.json``; ``--colour-weight`` overrides it.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from edge_bml.catalog.matches import Matches
from edge_bml.colour import delta_e
from edge_bml.errors import CatalogError

# Bumped whenever the product-colour rule changes, so that cached build chunks are not reused.
COLOUR_VERSION = "median-lab-grabcut-seeded-2"
DEFAULT_COLOUR_WEIGHT = 0.5
DEFAULT_CANDIDATES = 50


def colour_settings(weight: float, *, candidates: int = DEFAULT_CANDIDATES) -> dict:
    """The ``colour`` section of ``catalog.json``.

    Raises:
        CatalogError: a negative weight or fewer than one candidate.
    """
    check_weight(weight)
    if candidates < 1:
        raise CatalogError(f"colour candidates must be at least 1, got {candidates}")
    return {
        "space": "CIELAB (D65), ΔE76",
        "product_colour": COLOUR_VERSION,
        "weight": float(weight),
        "candidates": int(candidates),
    }


def check_weight(weight: float) -> float:
    """``weight`` if it is a finite number >= 0.

    Raises:
        CatalogError: it is negative or not finite.
    """
    if not np.isfinite(weight) or weight < 0:
        raise CatalogError(f"the colour weight must be a number >= 0, got {weight}")
    return float(weight)


def rerank_order(
    similarities: np.ndarray, product_colours: np.ndarray, colour: np.ndarray, *, weight: float, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the best ``k`` candidates by ``cosine - weight * ΔE / 100``, and their combined scores.

    ``similarities`` (n,) are the candidates' cosines, best first; ``product_colours`` (n, 3) their CIELAB
    colours, NaN rows where unknown: those rank as if at the median distance. Where no candidate has a
    colour (or ``weight`` is 0), the embedder's order stands.
    """
    similarities = np.asarray(similarities, np.float32)
    if not len(similarities) or weight <= 0:
        return np.arange(min(k, len(similarities))), similarities[:k]
    distances = delta_e(product_colours, np.asarray(colour, np.float32)).astype(np.float32)
    known = ~np.isnan(distances)
    if not known.any():
        return np.arange(min(k, len(similarities))), similarities[:k]
    distances = np.where(known, distances, np.median(distances[known]))
    scores = similarities - np.float32(weight) * distances / np.float32(100.0)
    order = np.argsort(-scores, kind="stable")[:k]
    return order, scores[order]


def rerank(candidates: Matches, colour: np.ndarray, *, weight: float, k: int) -> Matches:
    """The best ``k`` of ``candidates`` by ``cosine - weight * ΔE / 100`` (``rerank_order``)."""
    if not len(candidates) or weight <= 0:
        return Matches(candidates.items[:k])
    product_colours = np.array(
        [[np.nan] * 3 if m.colour is None else m.colour for m in candidates], np.float32
    ).reshape(-1, 3)
    if np.isnan(product_colours).all():
        return Matches(candidates.items[:k])
    order, scores = rerank_order(
        np.array([m.score for m in candidates], np.float32), product_colours, colour, weight=weight, k=k
    )
    return Matches(
        tuple(
            dataclasses.replace(candidates[i], score=float(score), similarity=candidates[i].score)
            for i, score in zip(order.tolist(), scores.tolist(), strict=True)
        )
    )
