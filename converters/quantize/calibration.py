"""Model inputs made from real photos by the runtime's own functions (``edge_bml.stages.inputs``).

Used for calibration (photos such as CCP ``tagged/``) and for validation (held-apart photos such as
CCP val). ``pose_detection``: the letterboxed photo; ``pose_landmarks``: the rotated square around the
person the FP32 pose detector finds; ``detector`` and ``parser``: the person crop around the FP32 pose
stage's main person; ``embedder``: the photo (an article crop) letterboxed on the model's pad colour.
Only the person is found here; every tensor comes from the same function the stage calls.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from pathlib import Path

import cv2
import numpy as np

from edge_bml.catalog.progress import Progress
from edge_bml.data_paths import data_dir
from edge_bml.errors import EdgeBmlError
from edge_bml.geometry import letterbox
from edge_bml.image_io import read_image
from edge_bml.manifest import ModelManifest
from edge_bml.stages.inputs import embedder_input, landmark_input, person_crop_input, pose_detection_input

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp")
# Tasks whose model reads the person crop around the pose stage's main person (``detector_crop``).
PERSON_CROP_TASKS = ("detector", "parser")


class CalibrationError(EdgeBmlError):
    """No usable photos for calibration or validation."""


def list_images(directory: str | Path, *, count: int | None = None) -> list[Path]:
    """Image files in ``directory``, sorted by name; with ``count``, that many spread evenly over the list.

    Raises:
        CalibrationError: the folder does not exist or holds no images.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise CalibrationError(f"no folder {directory}")
    images = sorted(p for p in directory.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not images:
        raise CalibrationError(f"{directory} holds no {'/'.join(IMAGE_SUFFIXES)} images")
    return spread(images, count)


def spread(items: list, count: int | None) -> list:
    """``count`` items spread evenly over ``items`` (all of them when ``count`` is None or larger)."""
    if count is None or count >= len(items):
        return list(items)
    if count < 1:
        raise CalibrationError(f"count must be at least 1, got {count}")
    picks = np.linspace(0, len(items) - 1, count).round().astype(int)
    return [items[i] for i in picks]


def ccp_val_images(*, count: int | None = None, root: Path | None = None) -> list[Path]:
    """The CCP val photos (the held-apart set for pose and detector checks).

    Raises:
        EdgeBmlError: the data set is not found.
    """
    root = root or data_dir()
    annotations = json.loads((root / "ccp" / "annotations.json").read_text())
    photos = [root / "ccp" / image["file"] for image in annotations["images"] if image["split"] == "val"]
    return spread(sorted(photos), count)


def embedder_holdout_images(
    manifest: ModelManifest, *, count: int | None = None, root: Path | None = None
) -> list[Path]:
    """The catalog photos the embedder never trained on (its ``holdout_ids.json``): its held-apart set.

    Raises:
        CalibrationError: the manifest names no holdout file, or none of its ids is in the clothing catalog.
    """
    holdout = (manifest.source.get("training") or {}).get("holdout") or {}
    path = manifest.directory / holdout.get("file", "holdout_ids.json")
    if not path.is_file():
        raise CalibrationError(f"{manifest.name} lists no held-out catalog items ({path}); pass --val-dir")
    ids = set(json.loads(path.read_text())["ids"])
    catalog = (root or data_dir()) / "clothing"
    with open(catalog / "items.csv", newline="") as handle:
        photos = sorted(catalog / row["file"] for row in csv.DictReader(handle) if row["id"] in ids)
    if not photos:
        raise CalibrationError(f"none of {manifest.name}'s {len(ids)} held-out ids is in {catalog / 'items.csv'}")
    return spread(photos, count)


def resize_input(manifest: ModelManifest, image: np.ndarray) -> np.ndarray:
    """A whole-image model input: letterboxed or stretched to the manifest's size, then normalised.

    Raises:
        CalibrationError: the manifest asks for a resize this function does not do (``rotated_crop``).
    """
    spec = manifest.input
    if spec.resize == "letterbox":
        resized, _ = letterbox(image, spec.width, spec.height)
    elif spec.resize in ("stretch", "resize"):
        resized = cv2.resize(image, (spec.width, spec.height), interpolation=cv2.INTER_AREA)
    else:
        raise CalibrationError(f"{manifest.name}: input resize {spec.resize!r} needs a region, not a whole photo")
    return spec.normalize(resized)


class TaskInputs:
    """Turns photos into model inputs for one task, as the runtime's stage for that task does.

    ``detector_manifest`` (an FP32 pose detector) is needed for ``pose_landmarks`` only; ``detector``
    and ``parser`` inputs load the FP32 pose stage (``PoseEstimator``, precision fp32) to find the person.
    Use as a context manager: the landmark and detector inputs keep a pose model open.
    """

    def __init__(self, manifest: ModelManifest, *, detector_manifest: ModelManifest | None = None) -> None:
        self.manifest = manifest
        self._detector = None
        self._pose = None
        if manifest.task in PERSON_CROP_TASKS:
            from edge_bml.stages.pose import PoseEstimator, PoseOptions

            self._pose = PoseEstimator.create_from_options(PoseOptions(precision="fp32"))
        elif manifest.task == "pose_landmarks":
            if detector_manifest is None:
                raise CalibrationError("pose_landmarks inputs need an FP32 pose_detection model to find the person")
            from edge_bml.stages.pose import PoseDetector

            self._detector = PoseDetector(detector_manifest)

    def from_image(self, image: np.ndarray) -> np.ndarray | None:
        """The model input for one RGB photo, or None where the photo yields none (no person found).

        Built by the runtime's own functions (``edge_bml.stages.inputs``), so calibration sees what the
        stages feed the model.
        """
        task = self.manifest.task
        if task == "pose_landmarks":
            detections = self._detector(image)
            if not detections:
                return None
            return landmark_input(self.manifest, image, detections[0].roi)
        if task in PERSON_CROP_TASKS:
            return self._person_crop(image)
        if task == "pose_detection":
            return pose_detection_input(self.manifest, image)[0]
        if task == "embedder":
            return embedder_input(self.manifest, image)
        return resize_input(self.manifest, image)

    def _person_crop(self, image: np.ndarray) -> np.ndarray | None:
        """The detector's (and parser's) input around the pose stage's main person; None where nobody is found."""
        main = self._pose(image).main
        if main is None:
            return None
        try:
            return person_crop_input(self.manifest, image, main.person_box)[0]
        except ValueError:  # an empty or non-finite person box: no usable crop
            return None

    def tensors(self, paths: Iterable[Path], *, label: str = "inputs") -> Iterator[tuple[Path, np.ndarray]]:
        """(path, input) for each photo that yields one, with a progress line on stderr."""
        paths = list(paths)
        with Progress(len(paths), label=label) as bar:
            for path in paths:
                tensor = self.from_image(read_image(path))
                bar.update()
                if tensor is not None:
                    yield path, tensor

    def close(self) -> None:
        if self._detector is not None:
            self._detector.close()
        if self._pose is not None:
            self._pose.close()

    def __enter__(self) -> TaskInputs:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def calibration_tensors(
    manifest: ModelManifest,
    directory: str | Path,
    *,
    count: int | None,
    detector_manifest: ModelManifest | None = None,
    exclude: Iterable[Path] = (),
) -> tuple[list[np.ndarray], list[Path]]:
    """Calibration inputs for ``manifest``'s task from the photos in ``directory``; returns (inputs, photos used).

    Raises:
        CalibrationError: no photos, every photo is in ``exclude`` (the held-apart set, never calibrated
        on: the ``count`` photos are spread over the others), or no photo yields an input.
    """
    held_apart = {Path(p).resolve() for p in exclude}
    candidates = list_images(directory)
    photos = spread([p for p in candidates if p.resolve() not in held_apart], count)
    if not photos:
        raise CalibrationError(
            f"all {len(candidates)} photos in {directory} are in the held-apart validation set; "
            "calibrate on other photos (CCP tagged/)"
        )
    with TaskInputs(manifest, detector_manifest=detector_manifest) as inputs:
        pairs = list(inputs.tensors(photos, label="calibration"))
    if not pairs:
        raise CalibrationError(f"none of the {len(photos)} photos in {directory} gave a {manifest.task} input")
    return [t for _, t in pairs], [p for p, _ in pairs]
