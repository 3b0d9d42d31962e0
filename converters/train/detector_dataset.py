"""CCP person crops for detector training: photos cut around the (jittered) person box.

Photos are decoded once and stored downscaled (so that the person crop is a little larger than
the model input) in a cache outside the repository, one ``.npy`` per photo; each sample then costs
one exact crop and resize. The crop rule is the runtime's (``edge_bml.stages.detector_crop``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from converters.train.detector_augment import photometric
from converters.train.parser_dataset import cut_label_crop
from converters.train.person_photo_cache import cached_person_photo
from edge_bml.catalog.progress import Progress
from edge_bml.data_fetch.sources import CCP_CATEGORIES
from edge_bml.errors import EdgeBmlError
from edge_bml.stages.detector_crop import CROP_GRID_PX, CropBox, cut_crop, person_crop_box

CATEGORIES = tuple(CCP_CATEGORIES)
DEFAULT_CACHE = Path("/tmp/edge_bml_cache/detector_photos")
CROP_MARGIN = 0.08


class DatasetError(EdgeBmlError):
    """The CCP data folder is missing or not in the expected layout."""


@dataclass(frozen=True)
class CcpRecord:
    """One annotated photo: its file, person box and article boxes (photo pixels) with class ids.

    ``ignore`` holds class ids that are present in the photo but not boxed (pseudo labels: tagged
    articles the labeller found no confident box for); training must not treat them as background.
    """

    image_id: str
    path: Path
    person_box: np.ndarray
    boxes: np.ndarray
    labels: np.ndarray
    ignore: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))


def load_ccp_records(data_dir: Path, *, split: str | None = None) -> list[CcpRecord]:
    """CCP images of ``split`` (all when None) that have a person box.

    Raises:
        DatasetError: ``ccp/annotations.json`` is missing or malformed.
    """
    path = Path(data_dir) / "ccp" / "annotations.json"
    if not path.is_file():
        raise DatasetError(f"no CCP annotations at {path}; pass --data pointing at the shared data folder")
    return load_annotation_records(path, split=split)


def load_annotation_records(path: Path, *, split: str | None = None) -> list[CcpRecord]:
    """Images of ``split`` (all when None) with a person box from any CCP-format annotations file.

    File paths are joined to the file's folder (absolute ones stay as they are); an image's
    optional ``ignore_categories`` become ``CcpRecord.ignore``.

    Raises:
        DatasetError: the file is missing or is not a CCP-format annotations file.
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"no annotations file at {path}; pass an existing CCP-format annotations JSON")
    try:
        images = json.loads(path.read_text())["images"]
    except (json.JSONDecodeError, KeyError, TypeError) as error:
        raise DatasetError(f"{path} is not a CCP annotations file: {error}") from error
    index = {name: i for i, name in enumerate(CATEGORIES)}
    records = []
    try:
        for image in images:
            if (split is not None and image["split"] != split) or not image.get("person_box"):
                continue
            objects = [o for o in image["objects"] if o["category"] in index]
            ignore = [index[c] for c in image.get("ignore_categories", []) if c in index]
            records.append(
                CcpRecord(
                    image_id=str(image["id"]),
                    path=path.parent / image["file"],
                    person_box=np.asarray(image["person_box"], np.float32),
                    boxes=np.asarray([o["box"] for o in objects], np.float32).reshape(-1, 4),
                    labels=np.asarray([index[o["category"]] for o in objects], np.int64),
                    ignore=np.asarray(sorted(set(ignore)), np.int64),
                )
            )
    except (KeyError, TypeError, ValueError) as error:
        message = f"{path}: an image entry is malformed ({error!r}); each needs id, file, split and objects"
        raise DatasetError(message) from error
    return records


class PersonCropDataset:
    """Augmented (or plain) person crops of CCP records at ``width`` x ``height``."""

    def __init__(
        self,
        records: list[CcpRecord],
        *,
        width: int,
        height: int,
        cache_dir: Path = DEFAULT_CACHE,
        paste_bank=None,
        paste_probability: float = 0.0,
        class_maps: Mapping[str, np.ndarray] | None = None,
    ):
        """``paste_bank`` (an ``InstanceBank``): augmented samples get one rare article pasted with
        ``paste_probability``. ``class_maps``: parser class maps at full photo size by photo path
        (``detector_parse_targets.load_class_maps``), for ``sample_with_parse``."""
        self.records, self.width, self.height = records, width, height
        self.paste_bank, self.paste_probability = paste_bank, paste_probability
        self.class_maps = dict(class_maps or {})
        self.cache_dir = Path(cache_dir) / f"h{height}"
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        self.photos: list[np.ndarray] = []
        self.scales: list[float] = []
        with Progress(len(records), label="caching photos") as bar:
            for record in records:
                photo, scale = self._cached_photo(record)
                self.photos.append(photo)
                self.scales.append(scale)
                bar.update()

    def _cached_photo(self, record: CcpRecord) -> tuple[np.ndarray, float]:
        return cached_person_photo(
            record.path,
            record.image_id,
            record.person_box,
            cache_dir=self.cache_dir,
            height=self.height,
            oversize=1.3,
            margin=CROP_MARGIN,
        )

    def __len__(self) -> int:
        return len(self.records)

    def sample(self, index: int, rng: np.random.Generator | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """RGB crop (H, W, 3) uint8, boxes (M, 4) in input pixels, labels (M,); augmented when ``rng`` given."""
        image, boxes, labels, _, _ = self._sample(index, rng, parse=False)
        return image, boxes, labels

    def sample_with_parse(self, index: int, rng: np.random.Generator | None = None) -> tuple[np.ndarray, ...]:
        """``sample``'s crop, boxes and labels, then the parser class map (H, W) uint8 under the crop and a
        (H, W) bool mask of its known pixels (none without a label map; a pasted article's box is unknown).
        The same ``rng`` draws give the same crop as ``sample``."""
        return self._sample(index, rng, parse=True)

    def _sample(self, index: int, rng: np.random.Generator | None, *, parse: bool) -> tuple:
        record, photo, scale = self.records[index], self.photos[index], self.scales[index]
        person = record.person_box * scale
        boxes = record.boxes * scale
        if rng is not None:
            person = _jitter_box(person, rng)
        # The runtime's crop rule (stages.inputs.person_crop_input): margin, aspect, then the grid, so that
        # training cuts the same integer-cornered crops with the same resize_exact.
        aspect = self.width / self.height
        crop = person_crop_box(person, aspect=aspect, margin=CROP_MARGIN).snapped(CROP_GRID_PX, aspect=aspect)
        image = cut_crop(photo, crop, self.width, self.height)
        boxes = crop.to_input(boxes, self.width, self.height)
        boxes, labels = _clip_boxes(boxes, record.labels, self.width, self.height)
        class_map = known = None
        if parse:
            class_map, known = self._class_map(record, crop, scale)
        if rng is not None and self.paste_bank is not None and rng.random() < self.paste_probability:
            person_in = crop.to_input(person[None], self.width, self.height)[0]
            before = len(boxes)
            image, boxes, labels = self.paste_bank.paste(image, boxes, labels, person_in, rng, present=record.ignore)
            if known is not None:
                for x0, y0, x1, y1 in boxes[before:]:
                    known[int(y0) : int(np.ceil(y1)), int(x0) : int(np.ceil(x1))] = False
        if rng is not None:
            if rng.random() < 0.5:
                image = image[:, ::-1].copy()
                boxes = np.stack([self.width - boxes[:, 2], boxes[:, 1], self.width - boxes[:, 0], boxes[:, 3]], 1)
                if class_map is not None:
                    class_map, known = class_map[:, ::-1].copy(), known[:, ::-1].copy()
            image = photometric(image, rng)
        return image, boxes.astype(np.float32), labels, class_map, known

    def _class_map(self, record: CcpRecord, crop, scale: float) -> tuple[np.ndarray, np.ndarray]:
        """The class map under ``crop`` (cached-photo pixels) and its known pixels."""
        full = self.class_maps.get(str(record.path))
        if full is None:
            return np.zeros((self.height, self.width), np.uint8), np.zeros((self.height, self.width), bool)
        photo_crop = CropBox(crop.x0 / scale, crop.y0 / scale, crop.x1 / scale, crop.y1 / scale)
        return cut_label_crop(full, photo_crop, self.width, self.height), np.ones((self.height, self.width), bool)


def _jitter_box(box: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Shift, rescale and move the edges of a person box, as the pose stage's box differs from the truth."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    scale = rng.uniform(0.85, 1.2)
    cx = (x0 + x1) / 2 + rng.normal(0, 0.03) * h
    cy = (y0 + y1) / 2 + rng.normal(0, 0.03) * h
    w, h = w * scale * rng.uniform(0.9, 1.15), h * scale
    edges = rng.normal(0, 0.02, 4) * h
    return np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], np.float32) + edges.astype(np.float32)


def _clip_boxes(boxes: np.ndarray, labels: np.ndarray, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """Clip boxes to the input; drop those left with under 40% of their area or under 2 px a side."""
    if len(boxes) == 0:
        return boxes.reshape(0, 4), labels
    clipped = boxes.copy()
    clipped[:, [0, 2]] = clipped[:, [0, 2]].clip(0, width)
    clipped[:, [1, 3]] = clipped[:, [1, 3]].clip(0, height)
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    kept_area = (clipped[:, 2] - clipped[:, 0]) * (clipped[:, 3] - clipped[:, 1])
    keep = (kept_area >= 0.4 * area) & (clipped[:, 2] - clipped[:, 0] >= 2) & (clipped[:, 3] - clipped[:, 1] >= 2)
    return clipped[keep], labels[keep]
