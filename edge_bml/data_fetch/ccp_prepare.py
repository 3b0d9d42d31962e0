"""Clothing Co-Parsing, from its repository layout to ``ccp/`` (photos, label PNGs, annotations.json,
tagged/ and tags.json). Reading MATLAB files needs scipy (``pip install 'edge_bml[data]'``)."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import cv2
import numpy as np

from edge_bml.data_fetch.article_boxes import article_objects, person_box
from edge_bml.data_fetch.sources import (
    CCP_BOX_RULE,
    CCP_CATEGORIES,
    CCP_COMMIT,
    CCP_HELD_OUT,
    CCP_REPO,
    CCP_TAGGED_HEIGHT,
)
from edge_bml.errors import EdgeBmlError

LICENSE = "Apache-2.0"


class DataPrepareError(EdgeBmlError):
    """A source folder lacks a file the preparation needs, or holds one it cannot read."""


def _loadmat(path: Path) -> dict:
    try:
        from scipy.io import loadmat
    except ImportError:
        raise DataPrepareError("reading CCP's .mat files needs scipy: pip install 'edge_bml[data]'") from None
    try:
        return loadmat(str(path))
    except Exception as error:  # scipy raises several unrelated types for damaged files
        raise DataPrepareError(f"cannot read {path}: {error}") from error


def read_label_list(source: Path) -> list[str]:
    """The 59 fine label names, index 0 = null.

    Raises:
        DataPrepareError: label_list.mat is missing or unreadable.
    """
    path = source / "label_list.mat"
    if not path.is_file():
        raise DataPrepareError(f"{source} is not a clothing-co-parsing checkout: no label_list.mat")
    raw = _loadmat(path)["label_list"]
    return [str(np.asarray(item).ravel()[0]) for item in np.asarray(raw).ravel()]


def split_of(image_id: str) -> str:
    """val where the SHA-1 of the 4-digit id is 0 modulo 5, else train."""
    return "val" if int(hashlib.sha1(image_id.encode()).hexdigest(), 16) % 5 == 0 else "train"


def prepare_ccp(source: Path, out: Path, *, progress=None) -> dict:
    """Write ``out`` (a ``ccp/`` folder) from a clothing-co-parsing checkout; returns counts."""
    labels = read_label_list(source)
    pixel = sorted((source / "annotations" / "pixel-level").glob("*.mat"))
    tagged = sorted((source / "annotations" / "image-level").glob("*.mat"))
    if not pixel:
        raise DataPrepareError(f"{source}/annotations/pixel-level holds no .mat files")
    for folder in ("photos", "labels", "tagged"):
        (out / folder).mkdir(parents=True, exist_ok=True)
    images = []
    for n, mat in enumerate(pixel):
        image_id = mat.stem
        if int(image_id) in CCP_HELD_OUT:
            continue
        label_map = np.asarray(_loadmat(mat)["groundtruth"]).astype(np.uint8)
        photo = source / "photos" / f"{image_id}.jpg"
        if not photo.is_file():
            raise DataPrepareError(f"missing photo {photo}")
        shutil.copyfile(photo, out / "photos" / photo.name)
        cv2.imwrite(str(out / "labels" / f"{image_id}.png"), label_map)
        height, width = label_map.shape
        images.append(
            {
                "id": image_id,
                "file": f"photos/{image_id}.jpg",
                "label_map": f"labels/{image_id}.png",
                "width": width,
                "height": height,
                "split": split_of(image_id),
                "person_box": person_box(label_map),
                "objects": article_objects(label_map, labels, CCP_CATEGORIES),
            }
        )
        if progress:
            progress(n + 1, len(pixel) + len(tagged))
    tags = []
    for n, mat in enumerate(tagged):
        image_id = mat.stem
        codes = np.asarray(_loadmat(mat)["tags"]).ravel().astype(int)
        photo = cv2.imread(str(source / "photos" / f"{image_id}.jpg"))
        if photo is None:
            raise DataPrepareError(f"missing or unreadable photo {source / 'photos' / image_id}.jpg")
        scale = CCP_TAGGED_HEIGHT / photo.shape[0]
        resized = cv2.resize(photo, (round(photo.shape[1] * scale), CCP_TAGGED_HEIGHT), interpolation=cv2.INTER_AREA)
        cv2.imwrite(str(out / "tagged" / f"{image_id}.jpg"), resized, [cv2.IMWRITE_JPEG_QUALITY, 95])
        names = sorted({labels[c] for c in codes if 0 < c < len(labels)})
        tags.append({"id": image_id, "file": f"tagged/{image_id}.jpg", "tags": names})
        if progress:
            progress(len(pixel) + n + 1, len(pixel) + len(tagged))
    source_text = f"Clothing Co-Parsing (CCP), Yang, Luo, Lin, CVPR 2014; github.com/{CCP_REPO} @ {CCP_COMMIT}"
    annotations = {
        "source": source_text,
        "license": LICENSE,
        "labels": labels,
        "categories": CCP_CATEGORIES,
        "box_rule": CCP_BOX_RULE,
        "images": images,
    }
    (out / "annotations.json").write_text(json.dumps(annotations))
    (out / "tags.json").write_text(json.dumps({"license": LICENSE, "images": tags}))
    if (source / "LICENSE").is_file():
        shutil.copyfile(source / "LICENSE", out / "LICENSE")
    return {"annotated": len(images), "tagged": len(tags)}
