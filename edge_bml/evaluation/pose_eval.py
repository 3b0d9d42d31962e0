"""How well the pose stage and the shot/facing classifier do on CCP: the figures the README reports.

Each photo runs three times: as is (every CCP photo is a full shot), cut to its top 55% (never a
full shot) and mirrored (facing must swap left/right and keep front/back; landmarks must mirror).
Garment photos from the clothing catalog hold no person.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edge_bml.image_io import read_image
from edge_bml.stages.pose import MIRROR_INDEX, PersonPose, PoseEstimator
from edge_bml.stages.pose_classifier import PoseClassifier
from edge_bml.timing import StageTimer, latency_percentiles

MIRRORED_FACING = {"left": "right", "right": "left", "front": "front", "back": "back"}


def mirrored_landmark_agreement(
    pose: PersonPose, mirrored: PersonPose, width: int, *, tolerance: float = 0.05, min_visibility: float = 0.5
) -> np.ndarray:
    """For each visible landmark of ``pose``: whether the mirrored photo's landmark, mirrored back,
    lies within ``tolerance`` x torso length of it."""
    back = mirrored.keypoints[MIRROR_INDEX, :2].copy()
    back[:, 0] = width - back[:, 0]
    xy = pose.keypoints[:, :2]
    torso = float(np.linalg.norm(xy[[11, 12]].mean(0) - xy[[23, 24]].mean(0)))
    visible = pose.visibility >= min_visibility
    return np.linalg.norm(back - xy, axis=1)[visible] <= tolerance * torso


@dataclass
class PoseReport:
    """Shares in [0, 1] and latency percentiles in milliseconds."""

    photos: int = 0
    full_shot: float = 0.0
    cut_not_full_shot: float = 0.0
    front_kept_when_mirrored: float = 0.0
    side_swapped_when_mirrored: float | None = None
    mirrored_landmarks_within_5pct_torso: float = 0.0
    garments: int = 0
    garments_no_person: float | None = None
    facing_counts: dict[str, int] = field(default_factory=dict)
    latency_ms: dict[str, dict[str, float]] = field(default_factory=dict)


def pose_evaluation_photos(
    annotations: Path, *, split: str = "val", limit: int | None = None, garments: int = 50
) -> tuple[list[Path], tuple[Path, ...]]:
    """The CCP photos of ``split`` ('all' for every one) and up to ``garments`` clothing photos (no person
    in them) beside CCP, as ``evaluate pose`` measures them.

    Raises:
        OSError, ValueError: the annotations file cannot be read.
    """
    import csv
    import json

    images = json.loads(annotations.read_text())["images"]
    photos = [annotations.parent / i["file"] for i in images if split in ("all", i["split"])][:limit]
    items = annotations.parent.parent / "clothing" / "items.csv"
    chosen: tuple[Path, ...] = ()
    if garments and items.is_file():
        with open(items, newline="") as handle:
            rows = list(csv.DictReader(handle))[:garments]
        chosen = tuple(items.parent / row["file"] for row in rows)
    return photos, chosen


def evaluate_pose(
    estimator: PoseEstimator,
    photos: list[Path],
    *,
    garments: tuple[Path, ...] = (),
    classifier: PoseClassifier | None = None,
) -> PoseReport:
    """Run the checks on full-shot ``photos`` (and garment photos) and return the figures."""
    classifier = classifier or PoseClassifier()
    full, cut, front_kept, side_swapped, agree = [], [], [], [], []
    facing_counts: dict[str, int] = {}
    timings: dict[str, list[float]] = {}
    for path in photos:
        image = read_image(path)
        timer = StageTimer()
        result = estimator(image, timer=timer)
        with timer.stage("pose_classify"):
            decision = classifier(result.main, result.image_size)
        for stage, value in timer.as_dict().items():
            timings.setdefault(stage, []).append(value)
        full.append(decision.shot == "full_shot")
        facing_counts[str(decision.facing)] = facing_counts.get(str(decision.facing), 0) + 1
        top = np.ascontiguousarray(image[: int(image.shape[0] * 0.55)])
        cut_result = estimator(top)
        cut.append(classifier(cut_result.main, cut_result.image_size).shot != "full_shot")
        mirrored = estimator(np.ascontiguousarray(image[:, ::-1]))
        mirrored_decision = classifier(mirrored.main, mirrored.image_size)
        if decision.facing in ("front", "back"):
            front_kept.append(mirrored_decision.facing == decision.facing)
        elif decision.facing in ("left", "right"):
            side_swapped.append(mirrored_decision.facing == MIRRORED_FACING[decision.facing])
        if result.main is not None and mirrored.main is not None:
            agree.extend(mirrored_landmark_agreement(result.main, mirrored.main, image.shape[1]))
    no_person = []
    for path in garments:
        result = estimator(read_image(path))
        no_person.append(classifier(result.main, result.image_size).shot == "no_person")
    return PoseReport(
        photos=len(photos),
        full_shot=float(np.mean(full)) if full else 0.0,
        cut_not_full_shot=float(np.mean(cut)) if cut else 0.0,
        front_kept_when_mirrored=float(np.mean(front_kept)) if front_kept else 0.0,
        side_swapped_when_mirrored=float(np.mean(side_swapped)) if side_swapped else None,
        mirrored_landmarks_within_5pct_torso=float(np.mean(agree)) if agree else 0.0,
        garments=len(garments),
        garments_no_person=float(np.mean(no_person)) if no_person else None,
        facing_counts=facing_counts,
        latency_ms={stage: latency_percentiles(values) for stage, values in timings.items()},
    )
