"""The garment parser's 15 classes and how CCP's 59 fine pixel labels map onto them.

Rule: the fine labels of each of CCP's 12 coarse categories (``annotations.json`` ``categories``)
become that category; ``skin`` -> skin; ``hair`` -> hair; ``null`` and every other fine label ->
background. Those others are small accessories worn on the skin (accessories, bracelet, earrings,
necklace, ring, watch, gloves, tie), underwear and swimwear (bra, intimate, panties, swimwear;
almost never visible in CCP) and legwear (socks, stockings, tights). Legwear is background rather
than pants or skin: CCP's article boxes (``article_boxes``) leave it out of every category, and
mapping it to a garment would make the parser's masks disagree with those boxes. Together these
are about 0.4% of CCP's pixels (stockings 0.24%, accessories 0.09%).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from edge_bml.data_fetch.sources import CCP_CATEGORIES

# Background, skin and hair, then CCP's 12 coarse article categories in their published order.
PARSER_CLASSES = ("background", "skin", "hair", *CCP_CATEGORIES)
# The parser's article classes: CCP's coarse categories (everything but background, skin and hair).
ARTICLE_CLASSES = PARSER_CLASSES[3:]


def fine_to_class(labels: Sequence[str], categories: Mapping[str, Sequence[str]]) -> dict[str, str]:
    """The parser class of each of CCP's fine labels (see the module docstring for the rule).

    Raises:
        ValueError: a category is not a parser class, or a fine label is in two categories.
    """
    mapping = {label: label if label in ("skin", "hair") else "background" for label in labels}
    seen: dict[str, str] = {}
    for category, fines in categories.items():
        if category not in ARTICLE_CLASSES:
            raise ValueError(f"CCP category {category!r} is not a parser class ({ARTICLE_CLASSES})")
        for fine in fines:
            if fine in seen:
                raise ValueError(f"fine label {fine!r} is in both {seen[fine]!r} and {category!r}")
            seen[fine] = category
            mapping[fine] = category
    return mapping


def ccp_lookup(labels: Sequence[str], categories: Mapping[str, Sequence[str]]) -> np.ndarray:
    """A 256-entry uint8 table: ``table[label_map]`` turns a CCP label map into parser class ids.

    Values past the fine labels (not in CCP) map to background.

    Raises:
        ValueError: as ``fine_to_class``.
    """
    index = {name: i for i, name in enumerate(PARSER_CLASSES)}
    mapping = fine_to_class(labels, categories)
    table = np.zeros(256, np.uint8)
    for code, label in enumerate(labels[:256]):
        table[code] = index[mapping[label]]
    return table
