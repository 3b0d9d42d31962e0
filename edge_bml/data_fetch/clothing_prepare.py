"""The clothing dataset, from its repository layout to ``clothing/`` (resized images and items.csv)."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import cv2

from edge_bml.data_fetch.ccp_prepare import DataPrepareError
from edge_bml.data_fetch.sources import CLOTHING_CATEGORY, CLOTHING_DROPPED, CLOTHING_MAX_SIDE

FIELDS = ("id", "file", "label", "category", "kids", "sender_id")


def prepare_clothing(source: Path, out: Path, *, progress=None) -> dict:
    """Write ``out`` (a ``clothing/`` folder) from a clothing-dataset checkout; returns counts.

    Raises:
        DataPrepareError: images.csv is missing or lacks a column.
    """
    listing = source / "images.csv"
    if not listing.is_file():
        raise DataPrepareError(f"{source} is not a clothing-dataset checkout: no images.csv")
    with open(listing, newline="") as handle:
        rows = list(csv.DictReader(handle))
    if rows and not {"image", "label", "kids", "sender_id"} <= set(rows[0]):
        raise DataPrepareError(f"{listing} lacks one of the columns image, label, kids, sender_id")
    (out / "images").mkdir(parents=True, exist_ok=True)
    items, skipped = [], 0
    for n, row in enumerate(rows):
        if progress:
            progress(n + 1, len(rows))
        category = CLOTHING_CATEGORY.get(row["label"])
        if row["label"] in CLOTHING_DROPPED or category is None:
            skipped += 1
            continue
        image = cv2.imread(str(source / "images" / f"{row['image']}.jpg"))
        if image is None:
            skipped += 1
            continue
        scale = min(1.0, CLOTHING_MAX_SIDE / max(image.shape[:2]))
        if scale < 1.0:
            size = (round(image.shape[1] * scale), round(image.shape[0] * scale))
            image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        cv2.imwrite(str(out / "images" / f"{row['image']}.jpg"), image, [cv2.IMWRITE_JPEG_QUALITY, 90])
        items.append(
            {
                "id": row["image"],
                "file": f"images/{row['image']}.jpg",
                "label": row["label"],
                "category": category,
                "kids": row["kids"],
                "sender_id": row["sender_id"],
            }
        )
    with open(out / "items.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows(items)
    if (source / "LICENSE").is_file():
        shutil.copyfile(source / "LICENSE", out / "LICENSE")
    return {"items": len(items), "skipped": skipped}
