"""Pseudo boxes for CCP's 1,094 tag-only photos (``ccp/tagged/``): more detector training signal.

Each photo goes through the runtime's pose stage (its person box, as in production) and a detector
variant at a low threshold. Tags say which fine labels appear, so only boxes of tagged categories
are kept, each only over a per-category score threshold chosen for precision, and at most CCP's
box rule allows (the best box per category, the best 2 for footwear). A tagged category left with
no box is written to the image's ``ignore_categories`` and to the file's ``review`` list: it is a
miss to review, never a negative. The output is a CCP-format annotations JSON (split ``pseudo``,
absolute photo paths, so it can live outside the repository), written atomically.

Thresholds: max(the variant's F1-best per-class threshold, ``PRECISION_FLOOR``). The F1-best
thresholds trade precision for recall; a wrong pseudo box teaches a wrong box, a missing one only
costs signal (its class is ignored on that photo), so precision comes first. The tag filter already
removes every box of an absent category, which is where most false positives go.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np

from edge_bml.errors import EdgeBmlError

PRECISION_FLOOR = 0.3
SEARCH_THRESHOLD = 0.05
MAX_BOXES = {"footwear": 2}


class PseudoLabelError(EdgeBmlError):
    """The tagged photos or their tags are missing, or the variant is not a detector."""


def fine_to_category(annotations: dict) -> dict[str, str]:
    """Fine label -> coarse category, from ``ccp/annotations.json``'s ``categories``."""
    return {fine: category for category, fines in annotations["categories"].items() for fine in fines}


def pseudo_thresholds(decoder: dict, labels: tuple[str, ...], floor: float = PRECISION_FLOOR) -> dict[str, float]:
    """Per-category keep threshold: max(the manifest's F1-best threshold, ``floor``)."""
    per_class = decoder.get("class_score_thresholds", {})
    default = float(decoder.get("score_threshold", 0.25))
    return {label: round(max(float(per_class.get(label, default)), floor), 3) for label in labels}


Kept = dict[str, list[tuple[list[float], float]]]


def keep_boxes(detections, present: set[str], thresholds: dict[str, float]) -> Kept:
    """Best boxes (xyxy, score) per present category over its threshold, at most ``MAX_BOXES`` (else 1)."""
    kept: Kept = {}
    order = np.argsort(-detections.confidence)
    for i in order:
        label = detections.labels[int(detections.class_id[i])]
        score = float(detections.confidence[i])
        if label not in present or score < thresholds[label]:
            continue
        boxes = kept.setdefault(label, [])
        if len(boxes) < MAX_BOXES.get(label, 1):
            boxes.append(([round(float(v), 1) for v in detections.xyxy[i]], round(score, 4)))
    return kept


def _write_json_atomic(path: Path, payload: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w") as stream:
            json.dump(payload, stream)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def pseudo_label_tagged(
    data_dir: Path,
    out: Path,
    *,
    variant: Path,
    floor: float = PRECISION_FLOOR,
    limit: int | None = None,
    threads: int | None = 1,
) -> dict:
    """Label ``ccp/tagged/`` photos with ``variant`` and write ``out``; returns the summary written into it.

    Raises:
        PseudoLabelError: no tagged photos/tags under ``data_dir``, or ``variant`` is not a detector.
    """
    from edge_bml.catalog.progress import Progress
    from edge_bml.image_io import read_image
    from edge_bml.manifest import load_manifest
    from edge_bml.stages.detector import ArticleDetector
    from edge_bml.stages.pose import PoseEstimator, PoseOptions

    ccp = Path(data_dir) / "ccp"
    tags_path, annotations_path = ccp / "tags.json", ccp / "annotations.json"
    if not tags_path.is_file() or not annotations_path.is_file():
        raise PseudoLabelError(f"no {tags_path} or {annotations_path}; pass --data pointing at the shared data folder")
    tagged = json.loads(tags_path.read_text())["images"][:limit]
    categories = fine_to_category(json.loads(annotations_path.read_text()))
    manifest = load_manifest(variant)
    if manifest.task != "detector":
        raise PseudoLabelError(f"{variant} is a {manifest.task} variant; pass a detector variant folder")
    thresholds = pseudo_thresholds(manifest.decoder, tuple(manifest.labels), floor)
    images, review, no_person = [], [], 0
    boxes_per_category = {label: 0 for label in manifest.labels}
    pose = PoseEstimator.create_from_options(PoseOptions(threads=threads))
    try:
        with (
            ArticleDetector(manifest, threads=threads) as detector,
            Progress(len(tagged), label="pseudo-labelling") as bar,
        ):
            for item in tagged:
                path = (ccp / item["file"]).resolve()
                image = read_image(path)
                main = pose(image).main
                if main is None:
                    no_person += 1
                    bar.update(1)
                    continue
                person_box = [round(float(v), 1) for v in main.person_box]
                present = {categories[tag] for tag in item["tags"] if tag in categories}
                found = detector(image, person_box, score_threshold=SEARCH_THRESHOLD)
                kept = keep_boxes(found, present, thresholds)
                objects = [
                    {"category": label, "box": box, "score": score}
                    for label in manifest.labels
                    for box, score in kept.get(label, [])
                ]
                missing = sorted(present - set(kept))
                for label in kept:
                    boxes_per_category[label] += len(kept[label])
                review += [{"id": item["id"], "file": str(path), "category": label} for label in missing]
                height, width = image.shape[:2]
                images.append(
                    {
                        "id": str(item["id"]),
                        "file": str(path),
                        "width": width,
                        "height": height,
                        "split": "pseudo",
                        "person_box": person_box,
                        "tags": item["tags"],
                        "objects": objects,
                        "ignore_categories": missing,
                    }
                )
                bar.update(1, note=f"{sum(boxes_per_category.values())} boxes, {len(review)} to review")
    finally:
        pose.close()
    summary = {
        "photos": len(tagged),
        "labelled_photos": len(images),
        "photos_without_person": no_person,
        "boxes": sum(boxes_per_category.values()),
        "boxes_per_category": boxes_per_category,
        "review_items": len(review),
        "review_per_category": {label: sum(r["category"] == label for r in review) for label in manifest.labels},
    }
    payload = {
        "source": {
            "made_with": "edge-bml-convert pseudo-label detector",
            "variant": manifest.name,
            "pose_models": [pose.detector.manifest.name, pose.landmarker.manifest.name],
            "thresholds": thresholds,
            "threshold_rule": f"max(the variant's F1-best per-class threshold, {floor}); tagged categories only; "
            "best box per category, best 2 for footwear",
            "note": "ignore_categories / review: tagged but no confident box; misses to review, not negatives",
        },
        "summary": summary,
        "categories": list(manifest.labels),
        "images": images,
        "review": review,
    }
    _write_json_atomic(Path(out), payload)
    return summary
