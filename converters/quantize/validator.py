"""FP32 against INT8, side by side on held-apart photos: output agreement, the task's own figure, speed.

``validate`` returns the ``metrics.validation`` block of the INT8 manifest (with ``passed`` and the
failures that decided it) and the latencies of both models measured in the same run, interleaved so
that background load hits both alike.

Task figures:
- pose_detection / pose_landmarks: the whole pose stage (detector then landmarks, as the runtime runs
  it) once with both FP32 models and once with the INT8 model in place of its FP32 twin; mean
  landmark distance between the two as a fraction of the FP32 torso length, and how often the
  PoseClassifier's ``shot`` and ``facing`` change.
- embedder: mean cosine of INT8 to FP32 embeddings and top-10 neighbour overlap over the photos.
- detector: mAP@0.5 of FP32 and of INT8 on the annotated held-apart photos (CCP val), each run as
  ``edge-bml evaluate detector`` runs it on the annotated person box (``person_crop="gt"``, so that
  both models read the same crops), with AP per category; fails where INT8 loses more than
  ``max_map_drop``.
- parser: mIoU and pixel accuracy of FP32 and of INT8 against CCP's label maps on the annotated
  held-apart photos (CCP val), both on the annotated person box, and how often the two label a pixel
  alike (over the photo, and over the pixels either model calls non-background); fails where INT8
  loses more than ``max_miou_drop`` mIoU unless that foreground agreement is at least
  ``min_pixel_agreement``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from edge_bml.backends import open_backend
from edge_bml.data_paths import data_dir
from edge_bml.errors import EdgeBmlError
from edge_bml.image_io import read_image
from edge_bml.manifest import ModelManifest


class ValidationError(EdgeBmlError):
    """The validation could not be run (no reference model, no usable photos, a task without a metric)."""


@dataclass(frozen=True)
class Thresholds:
    """Where a conversion fails. Landmark error is a fraction of torso length, measured against FP32."""

    max_landmark_error: float = 0.02
    max_shot_change: float = 0.02
    max_map_drop: float = 0.02
    min_topk_overlap: float = 0.8
    max_miou_drop: float = 0.02
    min_pixel_agreement: float = 0.97


def centred_cosine(expected: np.ndarray, got: np.ndarray) -> float:
    """Cosine between two arrays after subtracting each one's mean (1.0 where both are constant and equal)."""
    a = np.asarray(expected, np.float64).ravel()
    b = np.asarray(got, np.float64).ravel()
    a, b = a - a.mean(), b - b.mean()
    norms = np.linalg.norm(a) * np.linalg.norm(b)
    if norms == 0:
        return 1.0 if np.allclose(expected, got) else 0.0
    return float(a @ b / norms)


def compare_outputs(reference: ModelManifest, candidate: ModelManifest, inputs: Sequence[np.ndarray]) -> dict:
    """Per output tensor: centred cosine over all inputs stacked, the worst per input, and the max abs error.

    The stacked figure also covers one-value outputs (a pose score), whose per-input cosine means nothing.
    """
    ref = open_backend(reference.model_path, backend=reference.backend)
    test = open_backend(candidate.model_path, backend=candidate.backend)
    ref_name = reference.input.name or ref.inputs[0].name
    test_name = candidate.input.name or test.inputs[0].name
    pairs: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}
    try:
        for tensor in inputs:
            expected = ref.run({ref_name: tensor})
            got = test.run({test_name: tensor})
            for name, value in expected.items():
                if name not in got:
                    raise ValidationError(f"{candidate.name} has no output {name!r} (it has {sorted(got)})")
                pairs.setdefault(name, []).append((value.astype(np.float32), got[name].astype(np.float32)))
    finally:
        ref.close()
        test.close()
    roles = {tensor: role for role, tensor in reference.outputs.items()}
    figures = {}
    for name, values in pairs.items():
        expected = np.stack([e.ravel() for e, _ in values])
        got = np.stack([g.ravel() for _, g in values])
        per_input = [centred_cosine(e, g) for e, g in zip(expected, got)] if expected.shape[1] > 1 else []
        figures[name] = {
            "role": roles.get(name),
            "centred_cosine": round(centred_cosine(expected, got), 5),
            "centred_cosine_worst_input": round(float(np.min(per_input)), 5) if per_input else None,
            "max_abs_error": round(float(np.max(np.abs(expected - got))), 5),
        }
    return figures


def measure_latency(
    reference: ModelManifest,
    candidate: ModelManifest,
    tensor: np.ndarray,
    *,
    threads: Sequence[int] = (1, 2),
    runs: int = 30,
    warmup: int = 5,
) -> dict[str, dict[str, float]]:
    """Median ms per inference of both models at each thread count, runs interleaved (fp32, int8, fp32, ...)."""
    results: dict[str, dict[str, float]] = {"fp32": {}, "int8": {}}
    for count in threads:
        backends = {
            "fp32": open_backend(reference.model_path, backend=reference.backend, threads=count),
            "int8": open_backend(candidate.model_path, backend=candidate.backend, threads=count),
        }
        names = {
            key: (m.input.name or backends[key].inputs[0].name) for key, m in (("fp32", reference), ("int8", candidate))
        }
        times: dict[str, list[float]] = {"fp32": [], "int8": []}
        try:
            for key, backend in backends.items():
                for _ in range(warmup):
                    backend.run({names[key]: tensor})
            for _ in range(runs):
                for key, backend in backends.items():
                    start = time.perf_counter()
                    backend.run({names[key]: tensor})
                    times[key].append((time.perf_counter() - start) * 1000.0)
        finally:
            for backend in backends.values():
                backend.close()
        for key in results:
            results[key][f"threads_{count}"] = round(float(np.median(times[key])), 3)
    return results


def _torso_length(keypoints: np.ndarray) -> float:
    shoulders = keypoints[[11, 12], :2].mean(0)
    hips = keypoints[[23, 24], :2].mean(0)
    return max(float(np.linalg.norm(shoulders - hips)), 1e-6)


def pose_figures(reference_stage, candidate_stage, photos: Sequence[Path]) -> dict:
    """Compare two pose stages (``PoseEstimator``s) photo by photo: landmark distance, shot and facing changes."""
    from edge_bml.stages.pose_classifier import PoseClassifier

    classify = PoseClassifier()
    errors, shot_same, facing_same, found_same = [], 0, 0, 0
    for path in photos:
        image = read_image(path)
        size = image.shape[1::-1]
        ref, test = reference_stage(image).main, candidate_stage(image).main
        ref_class, test_class = classify(ref, size), classify(test, size)
        shot_same += ref_class.shot == test_class.shot
        facing_same += ref_class.facing == test_class.facing
        found_same += (ref is None) == (test is None)
        if ref is not None and test is not None:
            distance = np.linalg.norm(ref.keypoints[:, :2] - test.keypoints[:, :2], axis=1).mean()
            errors.append(float(distance) / _torso_length(ref.keypoints))
    count = len(photos)
    return {
        "photos": count,
        "people_compared": len(errors),
        "landmark_error_mean_torso": round(float(np.mean(errors)), 5) if errors else None,
        "landmark_error_p95_torso": round(float(np.percentile(errors, 95)), 5) if errors else None,
        "shot_same_fraction": round(shot_same / count, 5),
        "facing_same_fraction": round(facing_same / count, 5),
        "person_found_same_fraction": round(found_same / count, 5),
    }


def pose_failures(figures: dict, thresholds: Thresholds) -> list[str]:
    """The pose thresholds a set of ``pose_figures`` breaks, each in words."""
    failures = []
    error = figures["landmark_error_mean_torso"]
    if error is None:
        failures.append("no photo where both FP32 and INT8 found a person: the INT8 model finds nobody (collapsed?)")
    elif error > thresholds.max_landmark_error:
        failures.append(
            f"mean landmark distance to FP32 is {error:.2%} of torso length, over {thresholds.max_landmark_error:.2%}"
        )
    changed = 1.0 - figures["shot_same_fraction"]
    if changed > thresholds.max_shot_change:
        failures.append(f"shot class changes on {changed:.1%} of photos, over {thresholds.max_shot_change:.1%}")
    return failures


def detector_figures(
    reference: ModelManifest, candidate: ModelManifest, photos: Sequence[Path], *, annotations: Path | None = None
) -> dict:
    """mAP@0.5 (and AP per category) of both detectors on the annotated photos among ``photos``.

    ``annotations`` is a CCP-format ``annotations.json`` (default: CCP's); its val images that are in
    ``photos`` are scored, each on its annotated person box.

    Raises:
        ValidationError: none of ``photos`` is an annotated val image; EvaluationDataError: bad annotations.
    """
    from edge_bml.evaluation.detector_eval import evaluate_detector, load_annotations
    from edge_bml.stages.detector import ArticleDetector

    path = annotations or data_dir() / "ccp" / "annotations.json"
    wanted = {Path(p).resolve() for p in photos}
    images = [image for image in load_annotations(path, split="val") if Path(image["path"]).resolve() in wanted]
    if not images:
        raise ValidationError(f"none of the {len(photos)} held-apart photos is an annotated val image of {path}")
    results = {}
    for key, manifest in (("fp32", reference), ("int8", candidate)):
        with ArticleDetector(manifest) as detector:
            results[key] = evaluate_detector(detector, images, person_crop="gt", progress=False)
    fp32, int8 = results["fp32"], results["int8"]
    return {
        "images": len(images),
        "person_crop": "gt",
        "map50_fp32": fp32["map50"],
        "map50_int8": int8["map50"],
        "map50_drop": round(fp32["map50"] - int8["map50"], 4),
        "map50_95_fp32": fp32["map50_95"],
        "map50_95_int8": int8["map50_95"],
        "ap50_per_category": {
            label: {"fp32": ap, "int8": int8["ap50_per_category"].get(label)}
            for label, ap in fp32["ap50_per_category"].items()
        },
    }


def detector_failures(figures: dict, thresholds: Thresholds) -> list[str]:
    """The detector threshold a set of ``detector_figures`` breaks, in words."""
    drop = figures["map50_drop"]
    if not drop <= thresholds.max_map_drop:  # a NaN mAP (nothing scored) fails too
        return [
            f"mAP@0.5 drops from {figures['map50_fp32']:.4f} (FP32) to {figures['map50_int8']:.4f} (INT8), "
            f"by {drop:.4f}, over {thresholds.max_map_drop}"
        ]
    return []


def parser_figures(
    reference: ModelManifest, candidate: ModelManifest, photos: Sequence[Path], *, annotations: Path | None = None
) -> dict:
    """mIoU, pixel accuracy and IoU per class of both parsers, and their pixel agreement, on the annotated
    val photos among ``photos``, each parsed on its annotated person box.

    Raises:
        ValidationError: none of ``photos`` is an annotated val image; EvaluationDataError: bad annotations.
    """
    from edge_bml.evaluation.parser_eval import iou_figures, load_parser_annotations, read_ground_truth
    from edge_bml.stages.parser import GarmentParser

    path = annotations or data_dir() / "ccp" / "annotations.json"
    wanted = {Path(p).resolve() for p in photos}
    images, table = load_parser_annotations(path, split="val")
    images = [image for image in images if Path(image["path"]).resolve() in wanted]
    if not images:
        raise ValidationError(f"none of the {len(photos)} held-apart photos is an annotated val image of {path}")
    with GarmentParser(reference) as fp32, GarmentParser(candidate) as int8:
        count = len(fp32.classes)
        confusion = {"fp32": np.zeros((count, count), np.int64), "int8": np.zeros((count, count), np.int64)}
        same = pixels = same_foreground = foreground = 0
        for image_info in images:
            image = read_image(image_info["path"])
            truth = read_ground_truth(image_info, table).ravel().astype(np.int64)
            labels = {}
            for key, parser in (("fp32", fp32), ("int8", int8)):
                labels[key] = parser(image, image_info.get("person_box")).labels.ravel()
                confusion[key] += np.bincount(truth * count + labels[key], minlength=count * count).reshape(
                    count, count
                )
            agree = labels["fp32"] == labels["int8"]
            either = (labels["fp32"] > 0) | (labels["int8"] > 0)
            same, pixels = same + int(agree.sum()), pixels + agree.size
            same_foreground, foreground = same_foreground + int(agree[either].sum()), foreground + int(either.sum())
        figures = {key: iou_figures(matrix, fp32.classes) for key, matrix in confusion.items()}
    fp32_figures, int8_figures = figures["fp32"], figures["int8"]
    return {
        "images": len(images),
        "person_box": "annotated",
        "miou_fp32": fp32_figures["miou"],
        "miou_int8": int8_figures["miou"],
        "miou_drop": round(fp32_figures["miou"] - int8_figures["miou"], 4),
        "pixel_accuracy_fp32": fp32_figures["pixel_accuracy"],
        "pixel_accuracy_int8": int8_figures["pixel_accuracy"],
        "pixel_agreement": round(same / max(pixels, 1), 5),
        "pixel_agreement_foreground": round(same_foreground / max(foreground, 1), 5),
        "iou_per_class": {
            label: {"fp32": iou, "int8": int8_figures["iou_per_class"].get(label)}
            for label, iou in fp32_figures["iou_per_class"].items()
        },
    }


def parser_failures(figures: dict, thresholds: Thresholds) -> list[str]:
    """The parser threshold a set of ``parser_figures`` breaks, in words: the mIoU drop, unless the
    foreground pixel agreement is high enough on its own."""
    drop, agreement = figures["miou_drop"], figures["pixel_agreement_foreground"]
    if drop <= thresholds.max_miou_drop or agreement >= thresholds.min_pixel_agreement:
        return []
    return [
        f"mIoU drops from {figures['miou_fp32']:.4f} (FP32) to {figures['miou_int8']:.4f} (INT8), by {drop:.4f}, "
        f"over {thresholds.max_miou_drop}, and INT8 labels only {agreement:.2%} of the foreground pixels as FP32 "
        f"does (under {thresholds.min_pixel_agreement:.0%})"
    ]


def pose_stage(detector: ModelManifest, landmarks: ModelManifest):
    """The pose stage as the runtime builds it by default (``PoseOptions``: mirror averaging and all)."""
    from edge_bml.stages.pose import PoseDetector, PoseEstimator, PoseLandmarker, PoseOptions

    mirror = PoseOptions().mirror_average
    return PoseEstimator(PoseDetector(detector), PoseLandmarker(landmarks, mirror_average=mirror))


def embedder_figures(reference: ModelManifest, candidate: ModelManifest, inputs: Sequence[np.ndarray], k: int = 10):
    """Mean cosine of INT8 to FP32 embeddings, and mean overlap of each item's top-``k`` neighbours."""
    embeddings = []
    for manifest in (reference, candidate):
        backend = open_backend(manifest.model_path, backend=manifest.backend)
        name = manifest.input.name or backend.inputs[0].name
        output = manifest.outputs.get("embedding") or backend.outputs[0].name
        try:
            rows = np.stack([backend.run({name: t})[output].reshape(-1) for t in inputs]).astype(np.float64)
        finally:
            backend.close()
        embeddings.append(rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12))
    ref, test = embeddings
    k = min(k, len(inputs) - 1)
    if k < 1:
        raise ValidationError("the embedder check needs at least 2 photos")
    overlap = []
    for sims_ref, sims_test, i in zip(ref @ ref.T, test @ test.T, range(len(ref))):
        sims_ref[i] = sims_test[i] = -np.inf
        top_ref = set(np.argsort(-sims_ref)[:k])
        top_test = set(np.argsort(-sims_test)[:k])
        overlap.append(len(top_ref & top_test) / k)
    return {
        "items": len(inputs),
        "mean_cosine_to_fp32": round(float(np.mean(np.sum(ref * test, axis=1))), 5),
        f"top{k}_overlap": round(float(np.mean(overlap)), 5),
        "k": k,
    }


def validate(
    reference: ModelManifest,
    candidate: ModelManifest,
    photos: Sequence[Path],
    *,
    pose_partner: ModelManifest | None = None,
    thresholds: Thresholds | None = None,
    latency_runs: int = 30,
    held_apart: str = "",
) -> tuple[dict, dict]:
    """Validate ``candidate`` (INT8) against ``reference`` (FP32, same format) on ``photos``.

    ``pose_partner`` is the FP32 model of the other pose task (the landmark model when validating a
    pose detector, the detector when validating a landmark model), needed for the pose figures and
    for the landmark inputs. Returns ``(validation, latency)``: the manifest's ``metrics.validation``
    and ``{"fp32": {...}, "int8": {...}}`` median latencies.

    Raises:
        ValidationError: no photo gives an input, a task needs a partner that is missing, or (detector)
        no photo is an annotated val image.
    """
    from converters.quantize.calibration import TaskInputs

    thresholds = thresholds or Thresholds()
    task = reference.task
    if task.startswith("pose_") and pose_partner is None:
        raise ValidationError(f"validating {task} needs the FP32 model of the other pose task (pose_partner)")
    detector = pose_partner if task == "pose_landmarks" else None
    with TaskInputs(reference, detector_manifest=detector) as task_inputs:
        inputs = [t for _, t in task_inputs.tensors(photos, label="validation inputs")]
    if not inputs:
        raise ValidationError(f"none of the {len(photos)} held-apart photos gave a {task} input")
    outputs = compare_outputs(reference, candidate, inputs)
    failures: list[str] = []
    if task.startswith("pose_"):
        pair = {"pose_detection": (reference, pose_partner), "pose_landmarks": (pose_partner, reference)}[task]
        swapped = (candidate, pose_partner) if task == "pose_detection" else (pose_partner, candidate)
        with pose_stage(*pair) as fp32_stage, pose_stage(*swapped) as int8_stage:
            figures = pose_figures(fp32_stage, int8_stage, photos)
        figures["pipeline"] = f"INT8 {task} with FP32 {pose_partner.task} ({pose_partner.name})"
        figures["mirror_average"] = fp32_stage.landmarker.mirror_average
        failures += pose_failures(figures, thresholds)
    elif task == "detector":
        figures = detector_figures(reference, candidate, photos)
        failures += detector_failures(figures, thresholds)
    elif task == "parser":
        figures = parser_figures(reference, candidate, photos)
        failures += parser_failures(figures, thresholds)
    else:
        figures = embedder_figures(reference, candidate, inputs)
        overlap = figures[f"top{figures['k']}_overlap"]
        if overlap < thresholds.min_topk_overlap:
            failures.append(
                f"top-{figures['k']} neighbour overlap {overlap:.3f} is under {thresholds.min_topk_overlap}"
            )
    latency = measure_latency(reference, candidate, inputs[0], runs=latency_runs)
    validation = {
        "passed": not failures,
        "failures": failures,
        "reference": reference.name,
        "held_apart": {"set": held_apart, "photos": len(photos), "inputs": len(inputs)},
        "thresholds": asdict(thresholds),
        "outputs": outputs,
        "task": figures,
        "latency_ms": latency,
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "load_average_1min": load_average(),
    }
    return validation, latency


def load_average() -> float | None:
    """The 1-minute load average (latencies measured on a busy machine say so), where the OS has one."""
    try:
        import os

        return round(os.getloadavg()[0], 2)
    except OSError:
        return None
