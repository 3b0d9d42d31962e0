"""CCP person crops with their pixel label maps, for training the garment parser.

Each sample is the runtime's person crop (``edge_bml.stages.detector_crop``) around CCP's annotated
``person_box``, jittered; the label map is warped with the same affine map (nearest neighbour,
background outside the photo) from its full resolution, so thin classes (belts, glasses) survive.
Photos are decoded once and kept downscaled (the person crop a little larger than the model input)
in a cache outside the repository; label maps are kept at full size in memory (about 0.5 MB each).

Augmentation: left/right flip (no class has a side), crop scale and position jitter (the person box),
and mild brightness/contrast applied equally to all three channels. Hue and saturation are never
changed: article colour matters downstream.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from converters.train.person_photo_cache import cached_person_photo
from edge_bml.catalog.progress import Progress
from edge_bml.data_fetch.parser_labels import PARSER_CLASSES, ccp_lookup
from edge_bml.errors import EdgeBmlError
from edge_bml.stages.detector_crop import CropBox, cut_crop, person_crop_box

CROP_MARGIN = 0.08


class ParserDatasetError(EdgeBmlError):
    """The CCP data folder is missing or not in the expected layout."""


@dataclass(frozen=True)
class ParserRecord:
    """One annotated CCP photo: its id, photo and label-map paths, and the annotated person box."""

    image_id: str
    photo: Path
    label_map: Path
    person_box: np.ndarray


def load_parser_records(data_dir: Path, *, split: str | None) -> tuple[list[ParserRecord], np.ndarray]:
    """CCP photos of ``split`` (all when None) that have a person box, and the fine-label -> class table.

    Raises:
        ParserDatasetError: ``ccp/annotations.json`` is missing or malformed.
    """
    path = Path(data_dir) / "ccp" / "annotations.json"
    if not path.is_file():
        raise ParserDatasetError(f"no CCP annotations at {path}; pass --data pointing at the shared data folder")
    try:
        data = json.loads(path.read_text())
        table = ccp_lookup(data["labels"], data["categories"])
        images = data["images"]
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as error:
        raise ParserDatasetError(f"{path} is not a CCP annotations file: {error}") from error
    records = [
        ParserRecord(
            image_id=str(image["id"]),
            photo=path.parent / image["file"],
            label_map=path.parent / image["label_map"],
            person_box=np.asarray(image["person_box"], np.float32),
        )
        for image in images
        if (split is None or image["split"] == split) and image.get("person_box") and image.get("label_map")
    ]
    return records, table


def read_class_map(path: Path, table: np.ndarray) -> np.ndarray:
    """A CCP label map (8-bit PNG of fine-label indices) as parser class ids (H, W) uint8.

    Raises:
        ParserDatasetError: the file is missing or not a single-channel 8-bit image.
    """
    fine = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if fine is None or fine.ndim != 2 or fine.dtype != np.uint8:
        raise ParserDatasetError(f"{path} is not an 8-bit single-channel label map")
    return table[fine]


def cut_label_crop(labels: np.ndarray, crop: CropBox, input_width: int, input_height: int) -> np.ndarray:
    """The class map under ``crop`` at the input size: nearest neighbour, background (0) outside the photo.
    Output pixel centres map to photo pixel centres, as in ``cut_crop``, so labels stay on their pixels."""
    h, w = labels.shape[:2]
    ys = np.floor(crop.y0 + (np.arange(input_height) + 0.5) * (crop.height / input_height)).astype(np.int64)
    xs = np.floor(crop.x0 + (np.arange(input_width) + 0.5) * (crop.width / input_width)).astype(np.int64)
    out = labels[np.clip(ys, 0, h - 1)][:, np.clip(xs, 0, w - 1)]
    out[(ys < 0) | (ys >= h)] = 0
    out[:, (xs < 0) | (xs >= w)] = 0
    return out


def jitter_box(box: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Shift, rescale and move the edges of a person box: the pose stage's box differs from the truth."""
    x0, y0, x1, y1 = (float(v) for v in box)
    w, h = x1 - x0, y1 - y0
    scale = rng.uniform(0.88, 1.18)
    cx = (x0 + x1) / 2 + rng.normal(0, 0.025) * h
    cy = (y0 + y1) / 2 + rng.normal(0, 0.025) * h
    w, h = w * scale * rng.uniform(0.9, 1.12), h * scale
    edges = rng.normal(0, 0.015, 4) * h
    return np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], np.float32) + edges.astype(np.float32)


def brightness(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Mild brightness and contrast, the same on every channel (hue and saturation untouched)."""
    gain = rng.uniform(0.8, 1.2)
    contrast = rng.uniform(0.85, 1.15)
    image = rgb.astype(np.float32)
    mean = float(image.mean())
    return np.clip((image - mean) * contrast + mean * gain, 0, 255).astype(np.uint8)


class PersonParseDataset:
    """Augmented (or plain) person crops of CCP photos with their class maps at ``width`` x ``height``."""

    def __init__(
        self, records: list[ParserRecord], table: np.ndarray, *, width: int, height: int, cache_dir: Path
    ) -> None:
        self.records, self.width, self.height = records, width, height
        self.cache_dir = Path(cache_dir) / f"h{height}"
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        self.photos: list[np.ndarray] = []
        self.scales: list[float] = []
        self.labels: list[np.ndarray] = []
        with Progress(len(records), label="reading photos") as bar:
            for record in records:
                photo, scale = self._cached_photo(record)
                self.photos.append(photo)
                self.scales.append(scale)
                self.labels.append(read_class_map(record.label_map, table))
                bar.update()

    def _cached_photo(self, record: ParserRecord) -> tuple[np.ndarray, float]:
        return cached_person_photo(
            record.photo,
            record.image_id,
            record.person_box,
            cache_dir=self.cache_dir,
            height=self.height,
            oversize=1.4,
            margin=CROP_MARGIN,
        )

    def __len__(self) -> int:
        return len(self.records)

    def class_pixels(self) -> np.ndarray:
        """Pixels of each class inside the (unjittered) person crops, over all records: for class weights."""
        counts = np.zeros(len(PARSER_CLASSES), np.int64)
        for index in range(len(self)):
            _, labels = self.sample(index)
            counts += np.bincount(labels.ravel(), minlength=len(PARSER_CLASSES))[: len(PARSER_CLASSES)]
        return counts

    def sample(self, index: int, rng: np.random.Generator | None = None) -> tuple[np.ndarray, np.ndarray]:
        """RGB crop (H, W, 3) uint8 and class map (H, W) uint8; augmented when ``rng`` is given."""
        record, photo, scale = self.records[index], self.photos[index], self.scales[index]
        person = record.person_box if rng is None else jitter_box(record.person_box, rng)
        crop = person_crop_box(person, aspect=self.width / self.height, margin=CROP_MARGIN)
        small = CropBox(crop.x0 * scale, crop.y0 * scale, crop.x1 * scale, crop.y1 * scale)
        image = cut_crop(photo, small, self.width, self.height)
        labels = cut_label_crop(self.labels[index], crop, self.width, self.height)
        if rng is not None:
            if rng.random() < 0.5:
                image, labels = image[:, ::-1], labels[:, ::-1]
            image = brightness(image, rng)
            labels = np.ascontiguousarray(labels)
        return image, labels
