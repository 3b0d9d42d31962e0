"""Training batches for the ``appearance`` embedder objective: same product = positive, nothing else.

Each step takes one (or a few) categories and many of their items, two views per item: the product
photo with its garment on the neutral grey (anchor) and a street-like view of the same garment
(positive). The other items of the batch, of the same category, are the negatives. Augmentation
keeps colour and pattern (``colour="mild"``). Garment masks (GrabCut, ``edge_bml.foreground``) are
computed once per training photo and cached under ``/tmp/edge_bml_cache``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import cv2
import numpy as np

from converters.train.embedder_batches import Batch, to_tensor_input
from converters.train.embedder_dataset import _cached, decode_rgb
from edge_bml.catalog.progress import Progress
from edge_bml.evaluation.street_view import product_view, random_crop, street_view
from edge_bml.foreground import MAX_FOREGROUND, MIN_FOREGROUND, WORK_SIZE, neutral_fill, product_foreground

# Street-view positives: garment on the neutral grey (a good mask at look time), garment pasted by
# its mask on a street photo (mask missing or loose), or the whole product photo on a street photo.
GREY, GARMENT_ON_STREET = 0.6, 0.2


@dataclass(frozen=True)
class PackedMask:
    """A boolean mask stored as bits."""

    shape: tuple[int, int]
    bits: np.ndarray

    @classmethod
    def pack(cls, mask: np.ndarray) -> PackedMask:
        return cls((int(mask.shape[0]), int(mask.shape[1])), np.packbits(mask.astype(bool).ravel()))

    def unpack(self) -> np.ndarray:
        count = self.shape[0] * self.shape[1]
        return np.unpackbits(self.bits, count=count).astype(bool).reshape(self.shape)


@dataclass(frozen=True)
class AppearancePools:
    """Photos, their garment masks, item ids by category, street backgrounds."""

    photos: dict[str, bytes]
    masks: dict[str, PackedMask]
    by_category: dict[str, list[str]]
    backgrounds: list[np.ndarray]
    crops_by_category: dict[str, list[np.ndarray]] = field(default_factory=dict)


def garment_masks(photos: dict[str, bytes], *, cache_tag: str) -> dict[str, PackedMask]:
    """``product_foreground`` of every photo (by id), cached by ``cache_tag`` and the ids."""
    ids = sorted(photos)
    rule = f"{WORK_SIZE}|{MIN_FOREGROUND}|{MAX_FOREGROUND}"
    key = hashlib.sha1(f"masks|{cache_tag}|{rule}|{'|'.join(ids)}".encode()).hexdigest()[:16]

    def build() -> dict[str, PackedMask]:
        out = {}
        progress = Progress(len(ids), label="garment masks")
        for item_id in ids:
            rgb = decode_rgb(photos[item_id], item_id)
            if rgb is not None:
                out[item_id] = PackedMask.pack(product_foreground(rgb))
            progress.update()
        progress.close()
        return out

    return _cached(f"garment_masks_{key}", build)


def _garment_on_street(
    rgb: np.ndarray, mask: np.ndarray, backgrounds: list[np.ndarray], rng: np.random.Generator
) -> np.ndarray:
    h, w = rgb.shape[:2]
    bg = backgrounds[int(rng.integers(len(backgrounds)))]
    patch = cv2.resize(random_crop(bg, rng, min_area=0.1), (w, h), interpolation=cv2.INTER_AREA)
    return np.where(mask[..., None], rgb, patch)


def appearance_pair(
    rgb: np.ndarray, mask: np.ndarray, *, rng: np.random.Generator, backgrounds: list[np.ndarray], size: int
) -> tuple[np.ndarray, np.ndarray]:
    """(anchor, positive) of one product photo: garment on grey, and a street-like view of it."""
    filled = neutral_fill(rgb, mask)
    anchor = product_view(filled, rng=rng, colour="mild")
    draw = rng.random()
    if draw < GREY or not backgrounds:
        positive = street_view(filled, rng=rng, backgrounds=(), size=size, colour="mild")
    elif draw < GREY + GARMENT_ON_STREET:
        garment = _garment_on_street(rgb, mask, backgrounds, rng)
        positive = street_view(garment, rng=rng, backgrounds=backgrounds, size=size, colour="mild")
    else:
        positive = street_view(rgb, rng=rng, backgrounds=backgrounds, size=size, colour="mild")
    return anchor, positive


def draw_appearance_batch(
    pools: AppearancePools,
    *,
    seed: int,
    step: int,
    size: int,
    categories_per_batch: int,
    items_per_category: int,
    crops_per_category: int = 0,
) -> Batch:
    """One step's batch: anchor then positive per item, items of ``categories_per_batch`` categories.

    ``item_labels`` number the items. With ``crops_per_category`` (and CCP crops in the pools),
    that many street crops of each category follow its items, flagged in ``is_crop``.
    """
    rng = np.random.default_rng([seed, step, 7])
    names = sorted(c for c, ids in pools.by_category.items() if len(ids) >= 2)
    weights = np.sqrt([len(pools.by_category[c]) for c in names])
    chosen = rng.choice(
        len(names), size=min(categories_per_batch, len(names)), replace=False, p=weights / weights.sum()
    )
    images, items, cats, crop_flags = [], [], [], []
    for category_index in chosen:
        ids = [i for i in pools.by_category[names[category_index]] if i in pools.masks]
        for pick in rng.choice(len(ids), size=min(items_per_category, len(ids)), replace=False):
            item_id = ids[pick]
            rgb = decode_rgb(pools.photos[item_id], item_id)
            mask = pools.masks[item_id].unpack()
            if rgb is None or mask.shape != rgb.shape[:2]:
                continue
            anchor, positive = appearance_pair(rgb, mask, rng=rng, backgrounds=pools.backgrounds, size=size)
            label = len(images) // 2
            images += [anchor, positive]
            items += [label, label]
            cats += [int(category_index)] * 2
            crop_flags += [False, False]
        crops = pools.crops_by_category.get(names[category_index], []) if crops_per_category else []
        for pick in rng.choice(len(crops), size=min(crops_per_category, len(crops)), replace=False) if crops else []:
            crop = crops[pick]
            images.append(crop[:, ::-1] if rng.random() < 0.5 else crop)
            items.append(-1 - len(items))
            cats.append(int(category_index))
            crop_flags.append(True)
    return Batch(
        images=to_tensor_input([np.ascontiguousarray(im) for im in images], size),
        item_labels=np.asarray(items, np.int64),
        category_labels=np.asarray(cats, np.int64),
        is_crop=np.asarray(crop_flags, bool),
    )
