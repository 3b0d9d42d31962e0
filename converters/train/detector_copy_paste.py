"""Copy-paste augmentation for the detector's rare categories, cut out by CCP's pixel label maps.

CCP train has 59 scarf, 48 shorts and 82 hat boxes against 1,281 shoes: the rare categories are
seen a few dozen times a run. Each training crop may get one more instance of a rare category, cut
from another photo along its label-map mask and placed where it sat on its own wearer (its box in
units of that person's box), so a scarf lands at the neck and a belt at the waist. A category the
crop already has, or one exclusive with a garment it has (a skirt over pants), is never pasted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from converters.train.detector_dataset import CcpRecord
from edge_bml.catalog.progress import Progress
from edge_bml.image_io import read_image
from edge_bml.stages.exclusive_articles import ExclusiveRule

# Categories with under ~160 training boxes (CCP's counts): the ones copy-paste adds.
RARE_CATEGORIES = ("scarf", "shorts", "hat", "skirt", "belt")
MAX_SIDE = 160  # instances are kept at most this many pixels a side (the input is 192 x 384)


@dataclass(frozen=True)
class Instance:
    """One article cut out of a photo: its pixels, its mask (0..1) and its box in person-box units."""

    label: int
    rgb: np.ndarray
    alpha: np.ndarray
    relative_box: np.ndarray  # x0, y0, x1, y1 as fractions of the wearer's person box


class InstanceBank:
    """Rare-category instances of CCP train photos, to paste onto other training crops."""

    def __init__(self, instances: list[Instance], *, labels: tuple[str, ...], rule: ExclusiveRule | None = None):
        self.instances = instances
        self.labels = labels
        self._exclusive = (rule or ExclusiveRule()).pair_table(labels)

    @classmethod
    def from_ccp(
        cls, data_dir: Path, records: list[CcpRecord], *, labels: tuple[str, ...], categories=RARE_CATEGORIES
    ) -> InstanceBank:
        """Cut every object of ``categories`` out of ``records`` that have a CCP label map.

        Raises:
            FileNotFoundError: ``data_dir`` has no ``ccp/annotations.json``.
        """
        annotations = json.loads((Path(data_dir) / "ccp" / "annotations.json").read_text())
        fine_index = {name: i for i, name in enumerate(annotations["labels"])}
        fine_of = {c: [fine_index[f] for f in fines] for c, fines in annotations["categories"].items()}
        ccp = Path(data_dir) / "ccp"
        # By photo file, not id: extra (pseudo-labelled) annotations have no label maps.
        maps = {(ccp / i["file"]).resolve(): ccp / i["label_map"] for i in annotations["images"] if i.get("label_map")}
        wanted = {labels.index(c) for c in categories if c in labels}
        instances: list[Instance] = []
        usable = [r for r in records if r.path.resolve() in maps and set(r.labels.tolist()) & wanted]
        with Progress(len(usable), label="cutting rare articles") as bar:
            for record in usable:
                instances += _cut(record, maps[record.path.resolve()], labels, wanted, fine_of)
                bar.update()
        return cls(instances, labels=labels)

    def __len__(self) -> int:
        return len(self.instances)

    def paste(
        self,
        image: np.ndarray,
        boxes: np.ndarray,
        labels: np.ndarray,
        person: np.ndarray,
        rng: np.random.Generator,
        *,
        present: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``image`` with one instance pasted where it fits the crop's ``person`` box (input pixels), and
        its box and label added; the inputs unchanged where no instance may go there. ``present``: more
        categories the photo has without a box (a pasted one would contradict them)."""
        worn = set(labels.tolist()) | set(() if present is None else present.tolist())
        allowed = [
            i
            for i, inst in enumerate(self.instances)
            if inst.label not in worn and not any(self._exclusive[inst.label, other] for other in worn)
        ]
        if not allowed:
            return image, boxes, labels
        inst = self.instances[allowed[int(rng.integers(len(allowed)))]]
        px0, py0, px1, py1 = person
        pw, ph = px1 - px0, py1 - py0
        jitter = rng.normal(0, 0.02, 4) * np.array([pw, ph, pw, ph])
        x0, y0, x1, y1 = inst.relative_box * np.array([pw, ph, pw, ph]) + np.array([px0, py0, px0, py0]) + jitter
        height, width = image.shape[:2]
        w, h = int(round(x1 - x0)), int(round(y1 - y0))
        left, top = int(round(x0)), int(round(y0))
        if w < 4 or h < 4 or left >= width or top >= height or left + w <= 0 or top + h <= 0:
            return image, boxes, labels
        rgb = cv2.resize(inst.rgb, (w, h), interpolation=cv2.INTER_LINEAR)
        alpha = cv2.resize(inst.alpha, (w, h), interpolation=cv2.INTER_LINEAR)[..., None]
        if rng.random() < 0.5:
            rgb, alpha = rgb[:, ::-1], alpha[:, ::-1]
        # The part of the pasted patch inside the crop.
        cx0, cy0 = max(left, 0), max(top, 0)
        cx1, cy1 = min(left + w, width), min(top + h, height)
        patch = (slice(cy0 - top, cy1 - top), slice(cx0 - left, cx1 - left))
        out = image.copy()
        region = out[cy0:cy1, cx0:cx1].astype(np.float32)
        blended = region * (1 - alpha[patch]) + rgb[patch].astype(np.float32) * alpha[patch]
        out[cy0:cy1, cx0:cx1] = np.clip(blended, 0, 255).astype(np.uint8)
        box = np.array([[cx0, cy0, cx1, cy1]], np.float32)
        new_labels = np.concatenate([labels, [inst.label]]).astype(labels.dtype)
        return out, np.concatenate([boxes.reshape(-1, 4), box]), new_labels


def _cut(
    record: CcpRecord, label_map: Path, labels: tuple[str, ...], wanted: set[int], fine_of: dict[str, list[int]]
) -> list[Instance]:
    photo = read_image(record.path)
    fine = cv2.imread(str(label_map), cv2.IMREAD_UNCHANGED)
    if fine is None or fine.shape[:2] != photo.shape[:2]:
        return []
    px0, py0, px1, py1 = record.person_box
    pw, ph = max(px1 - px0, 1.0), max(py1 - py0, 1.0)
    found = []
    for box, label in zip(record.boxes, record.labels.tolist()):
        if label not in wanted:
            continue
        x0, y0, x1, y1 = (int(round(v)) for v in box)
        x0, y0 = max(x0, 0), max(y0, 0)
        x1, y1 = min(x1, photo.shape[1]), min(y1, photo.shape[0])
        if x1 - x0 < 4 or y1 - y0 < 4:
            continue
        mask = np.isin(fine[y0:y1, x0:x1], fine_of[labels[label]]).astype(np.float32)
        if mask.mean() < 0.15:
            continue  # too little of the box is the article itself
        scale = min(1.0, MAX_SIDE / max(x1 - x0, y1 - y0))
        size = (max(2, round((x1 - x0) * scale)), max(2, round((y1 - y0) * scale)))
        rgb = cv2.resize(photo[y0:y1, x0:x1], size, interpolation=cv2.INTER_AREA)
        alpha = cv2.GaussianBlur(cv2.resize(mask, size, interpolation=cv2.INTER_AREA), (3, 3), 0)
        relative = np.array([(x0 - px0) / pw, (y0 - py0) / ph, (x1 - px0) / pw, (y1 - py0) / ph], np.float32)
        found.append(Instance(label=label, rgb=rgb, alpha=alpha, relative_box=relative))
    return found
