"""What the embedder and the colour match see of each article: its crop, its garment mask, its colour.

With a garment parser, an article's pixels are the parser's pixels of its category inside its box:
their median CIELAB is the colour matched, and (for an embedder trained on garments on a neutral
backdrop, ``decoder.foreground_fill``) everything else in the crop becomes the neutral grey, as the
catalog build does to product photos. Without a parser (or where it finds too little of the category
in the box), the crop stays as it is and its central half gives the colour.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge_bml.foreground import garment_colour, neutral_fill
from edge_bml.runtime_choice import RuntimeChoice

# A mask covering less of the box than this is not trusted (the parser missed the garment).
MIN_MASK_SHARE = 0.08


@dataclass(frozen=True)
class ArticleView:
    """One article as the embedder reads it (``crop``), and its garment colour (CIELAB, or None)."""

    crop: np.ndarray
    colour: np.ndarray | None
    masked: bool = False


def crop_article(image: np.ndarray, box: np.ndarray) -> np.ndarray | None:
    """The pixels inside ``box`` (xyxy), or None where the box is empty after clipping."""
    height, width = image.shape[:2]
    x0, y0 = max(int(np.floor(box[0])), 0), max(int(np.floor(box[1])), 0)
    x1, y1 = min(int(np.ceil(box[2])), width), min(int(np.ceil(box[3])), height)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None
    return np.ascontiguousarray(image[y0:y1, x0:x1])


def article_view(image: np.ndarray, box: np.ndarray, category: str, *, parse=None, fill: bool = False):
    """The ``ArticleView`` of one article box (None where the box is empty); ``parse`` is a ``ParseResult``."""
    crop = crop_article(image, box)
    if crop is None:
        return None
    mask = None
    if parse is not None and category in parse.classes:
        mask = parse.mask(category, box)
        if mask.shape != crop.shape[:2] or mask.mean() < MIN_MASK_SHARE:
            mask = None
    colour = garment_colour(crop, mask)
    if fill and mask is not None:
        return ArticleView(neutral_fill(crop, mask), colour, masked=True)
    return ArticleView(crop, colour, masked=mask is not None)


def optional_parser(runtime: RuntimeChoice | None = None):
    """The garment parser (``GarmentParser``), run as ``runtime`` says, where a validated variant is
    installed, else None.

    Raises:
        BackendUnavailableError, ChecksumMismatchError, ModelLoadError: a parser variant exists but cannot load.
    """
    from edge_bml.errors import ModelNotFoundError
    from edge_bml.model_registry import choose_variant

    runtime = runtime or RuntimeChoice()
    try:
        choice = choose_variant("parser", **runtime.variant_query)
    except ModelNotFoundError:
        return None
    from edge_bml.stages.parser import GarmentParser

    parser = GarmentParser(choice.manifest, threads=runtime.threads)
    parser.choice = choice
    return parser
