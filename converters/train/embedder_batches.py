"""Training batches for the embedder: a few categories per step, two views per item, CCP crops.

Each step draws its own ``numpy`` generator from ``(seed, step)``, so a resumed run sees the same
batches as an uninterrupted one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from converters.train.embedder_dataset import decode_rgb
from edge_bml.evaluation.street_view import PAD_VALUE, product_view, street_view
from edge_bml.geometry import letterbox

# ImageNet statistics on 0..255 RGB, as the EfficientNet-Lite0 checkpoint was trained.
MEAN = (123.675, 116.28, 103.53)
STD = (58.395, 57.12, 57.375)


@dataclass(frozen=True)
class TrainingPools:
    """Everything batches are drawn from."""

    photos: dict[str, bytes]
    by_category: dict[str, list[str]]
    crops_by_category: dict[str, list[np.ndarray]]
    backgrounds: list[np.ndarray]


@dataclass(frozen=True)
class Batch:
    """Images as a normalised NCHW float32 array, with instance and category labels."""

    images: np.ndarray
    item_labels: np.ndarray
    category_labels: np.ndarray
    is_crop: np.ndarray


def to_tensor_input(images: list[np.ndarray], size: int) -> np.ndarray:
    """Letterbox RGB images to ``size`` and normalise them the way the exported model expects."""
    boxed = [letterbox(image, size, size, pad_value=PAD_VALUE)[0] for image in images]
    x = (np.stack(boxed).astype(np.float32) - np.asarray(MEAN, np.float32)) / np.asarray(STD, np.float32)
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))


def draw_batch(
    pools: TrainingPools,
    *,
    seed: int,
    step: int,
    size: int,
    categories_per_batch: int,
    items_per_category: int,
    crops_per_category: int,
) -> Batch:
    """One step's batch: product view + street view per item, then CCP crops of the same categories."""
    rng = np.random.default_rng([seed, step])
    names = sorted(c for c, ids in pools.by_category.items() if len(ids) >= 2)
    weights = np.sqrt([len(pools.by_category[c]) for c in names])
    chosen = rng.choice(
        len(names), size=min(categories_per_batch, len(names)), replace=False, p=weights / weights.sum()
    )
    images, items, cats, crop_flags = [], [], [], []
    for category_index in chosen:
        category = names[category_index]
        ids = pools.by_category[category]
        picks = rng.choice(len(ids), size=min(items_per_category, len(ids)), replace=False)
        for pick in picks:
            rgb = decode_rgb(pools.photos[ids[pick]], ids[pick])
            if rgb is None:
                continue
            images += [product_view(rgb, rng=rng), street_view(rgb, rng=rng, backgrounds=pools.backgrounds, size=size)]
            items += [len(items) // 2] * 2
            cats += [int(category_index)] * 2
            crop_flags += [False, False]
        crops = pools.crops_by_category.get(category, [])
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
