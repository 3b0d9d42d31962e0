"""``edge-bml-convert quantize``: an FP32 model variant in, a validated INT8 variant out.

Flow: read the FP32 source's manifest (beside it) -> calibration inputs from real photos, made as the
runtime makes them -> the target format's quantizer (``onnx``, ``openvino``, ``tflite`` beside this
module) writes into a staging folder -> the validator runs FP32 and INT8 side by side on held-apart
photos -> manifest (with ``metrics``) and ``REPORT.md`` -> the folder is swapped in,
or, where a threshold failed and ``force`` is off, nothing is written and ``QuantizationRejected``
says why. The FP32 twin's measured latencies go into its manifest (its model files are untouched)
so that ``select_variant``'s ``auto`` compares like with like.
"""

from __future__ import annotations

import dataclasses
import shutil
from dataclasses import dataclass
from pathlib import Path

from converters.atomic_dir import atomic_directory
from converters.quantize.calibration import calibration_tensors, ccp_val_images, embedder_holdout_images
from converters.quantize.errors import QuantizationError
from converters.quantize.output import ALL_INT8, KeepFloat
from converters.quantize.report_markdown import REPORT_NAME, write_report
from converters.quantize.validator import Thresholds, validate
from edge_bml.errors import EdgeBmlError, ModelNotFoundError
from edge_bml.manifest import MANIFEST_NAME, ModelManifest, load_manifest, parse_manifest, sha256_file, write_manifest
from edge_bml.model_registry import list_manifests

TARGETS = ("onnx", "openvino", "tflite")
SOURCE_SUFFIXES = {"onnx": (".onnx",), "openvino": (".onnx", ".tflite"), "tflite": (".tflite", ".pt", ".pth")}
# PyTorch checkpoints of the models edge_bml trains: TFLite only, through litert-torch (``litert_torch``).
TORCH_SUFFIXES = (".pt", ".pth")
POSE_PARTNER = {"pose_detection": "pose_landmarks", "pose_landmarks": "pose_detection"}


class QuantizationRejected(EdgeBmlError):
    """The INT8 model failed its accuracy thresholds; nothing was written."""


@dataclass(frozen=True)
class QuantizeOptions:
    """What ``quantize`` does besides the source and target. ``val_photos`` None means CCP val."""

    calib_count: int | None = 128
    keep_float: KeepFloat = ALL_INT8
    force: bool = False
    thresholds: Thresholds = Thresholds()
    val_photos: tuple[Path, ...] | None = None
    val_count: int | None = None
    latency_runs: int = 30
    source_manifest: Path | None = None


@dataclass(frozen=True)
class QuantizeResult:
    """Where the INT8 variant went, its validation block, and the FP32 manifest that got latencies (if any)."""

    out: Path
    validation: dict
    fp32_updated: Path | None


def source_manifest_for(source: Path, manifest_dir: Path | None = None) -> ModelManifest:
    """The manifest that describes ``source``: ``manifest_dir``'s, else the one beside the file.

    Raises:
        QuantizationError: no manifest there, or it names another model file.
    """
    directory = manifest_dir or source.parent
    if not (directory / MANIFEST_NAME).is_file():
        raise QuantizationError(
            f"no {MANIFEST_NAME} beside {source}: the converter reads preprocessing and output roles from the "
            "FP32 model's manifest; pass --manifest DIR"
        )
    manifest = load_manifest(directory)
    if manifest_dir is None and manifest.model_path.resolve() != source.resolve():
        raise QuantizationError(f"{directory / MANIFEST_NAME} describes {manifest.model_file}, not {source.name}")
    return manifest


def _fp32_variant(manifest: ModelManifest, task: str, fmt: str, root: Path) -> ModelManifest | None:
    """The FP32 variant of ``task`` in format ``fmt`` under ``root``; the one named like ``manifest`` first."""
    candidates = [m for m in list_manifests(root) if m.task == task and m.precision == "fp32" and m.format == fmt]
    stem = manifest.name.removesuffix(f"_{manifest.format}")
    named = [m for m in candidates if m.name == f"{stem}_{fmt}"]
    return (named or candidates or [None])[0]


def fp32_reference(source: ModelManifest, target: str, root: Path) -> tuple[ModelManifest, bool]:
    """The FP32 model the INT8 one is compared with, on the target's runtime; and whether it is a stored variant.

    Raises:
        QuantizationError: no FP32 model in the target format and its runtime cannot read the source.
    """
    if source.format == target:
        return source, True
    found = _fp32_variant(source, source.task, target, root)
    if found is not None:
        return found, True
    if target == "openvino":  # OpenVINO reads .onnx and .tflite directly: compare with the source on OpenVINO
        return dataclasses.replace(source, format="openvino"), False
    raise QuantizationError(f"no FP32 {target} variant of {source.task} under {root} to compare the INT8 model with")


def _int8_manifest(source: ModelManifest, staging: Path, name: str, target: str, output, calib: dict) -> ModelManifest:
    return source.derive(
        staging,
        name=name,
        format=target,
        precision="int8",
        model_file=output.model_file,
        sha256={f: sha256_file(staging / f) for f in output.files},
        source={
            **source.source,
            "fp32_variant": source.name,
            "fp32_file": source.model_file,
            "fp32_sha256": source.sha256.get(source.model_file),
            "converted_with": output.route,
            "quantization": output.settings,
            "calibration": calib,
        },
        metrics={"size_bytes": sum((staging / f).stat().st_size for f in output.files)},
    )


def _run_quantizer(
    target: str, source: Path, staging: Path, stem: str, tensors, keep_float: KeepFloat, manifest: ModelManifest
):
    if source.suffix in TORCH_SUFFIXES:
        from converters.quantize.litert_torch import quantize_litert_torch

        return quantize_litert_torch(source, staging, stem, tensors, manifest=manifest, keep_float=keep_float)
    if target == "onnx":
        from converters.quantize.onnx import quantize_onnx as run
    elif target == "openvino":
        from converters.quantize.openvino import quantize_openvino as run
    else:
        from converters.quantize.tflite import quantize_tflite as run
    return run(source, staging, stem, tensors, keep_float=keep_float)


def quantize(
    source: Path, *, task: str, target: str, calib_dir: Path, out: Path, options: QuantizeOptions | None = None
) -> QuantizeResult:
    """Quantize the FP32 model file ``source`` for ``task`` to an INT8 ``target`` variant in ``out``.

    Raises:
        QuantizationError: bad source/target/task; CalibrationError: no usable photos;
        ValidationError: the validation cannot run; QuantizationRejected: a threshold failed and
        ``options.force`` is off (nothing is written then).
    """
    options = options or QuantizeOptions()
    source, out = Path(source), Path(out)
    if target not in TARGETS:
        raise QuantizationError(f"--to must be one of {TARGETS}, got {target!r}")
    if not source.is_file():
        raise ModelNotFoundError(f"no source model {source}")
    if source.suffix not in SOURCE_SUFFIXES[target]:
        raise QuantizationError(
            f"{target} INT8 is made from {'/'.join(SOURCE_SUFFIXES[target])} FP32 models, not {source.suffix}"
            + (" (PyTorch checkpoints: --to tflite, through litert-torch)" if source.suffix in TORCH_SUFFIXES else "")
        )
    manifest = source_manifest_for(source, options.source_manifest)
    if manifest.task != task:
        raise QuantizationError(f"{source} is a {manifest.task} model ({manifest.name}), not {task}")
    if out.resolve() == manifest.directory.resolve():
        raise QuantizationError(f"--out {out} is the FP32 source's own folder; name a new folder")
    root = out.parent
    torch_source = source.suffix in TORCH_SUFFIXES
    if torch_source:  # the FP32 .tflite of the same checkpoint is made (or reused) below, once inputs exist
        reference, stored = manifest, True
    else:
        reference, stored = fp32_reference(manifest, target, root)
    partner = None
    if task in POSE_PARTNER:
        partner = _fp32_variant(manifest, POSE_PARTNER[task], target, root) or _fp32_variant(
            manifest, POSE_PARTNER[task], manifest.format, root
        )
        if partner is None:
            raise QuantizationError(
                f"no FP32 {POSE_PARTNER[task]} model under {root}: the pose check needs both models"
            )
    if options.val_photos is not None:
        photos, held_apart = list(options.val_photos), "given photos"
    elif task == "embedder":
        photos = embedder_holdout_images(manifest, count=options.val_count)
        held_apart = "catalog items held out of the embedder's training"
    else:
        photos, held_apart = ccp_val_images(count=options.val_count), "CCP val"
    tensors, used = calibration_tensors(
        manifest,
        calib_dir,
        count=options.calib_count,
        detector_manifest=partner if task == "pose_landmarks" else None,
        exclude=photos,
    )
    calib = {"dir": calib_dir.name, "photos": len(used), "first": used[0].name, "last": used[-1].name}
    if torch_source:
        from converters.quantize.litert_torch import fp32_twin

        reference = fp32_twin(source, manifest, root, tensors[0])
    with atomic_directory(out) as staging:
        stem = Path(manifest.model_file).stem if torch_source else source.stem  # embedder.tflite, not checkpoint
        output = _run_quantizer(target, source, staging, stem, tensors, options.keep_float, manifest)
        int8 = _int8_manifest(reference if torch_source else manifest, staging, out.name, target, output, calib)
        validation, latency = validate(
            reference,
            int8,
            photos,
            pose_partner=partner,
            thresholds=options.thresholds,
            latency_runs=options.latency_runs,
            held_apart=held_apart,
        )
        validation["size_bytes"] = {
            "fp32": sum((reference.directory / f).stat().st_size for f in reference.sha256),
            "int8": int8.metrics["size_bytes"],
        }
        if not validation["passed"] and not options.force:
            raise QuantizationRejected(
                f"{out.name} failed validation on {len(photos)} held-apart photos: "
                + "; ".join(validation["failures"])
                + ". Nothing was written. Keep the breaking layers in float (--keep-float PATTERN), "
                "calibrate on more photos, or --force to write it marked as failed."
            )
        metrics = {**int8.metrics, "validation": validation, "latency_ms": latency["int8"]}
        int8 = dataclasses.replace(int8, metrics=metrics)
        write_manifest(int8)
        write_report(int8, staging / REPORT_NAME)
        copy_holdout_list(manifest, staging)
    updated = None
    if stored and reference.directory.resolve() != out.resolve():
        updated = record_fp32_latency(reference.directory, latency["fp32"], measured_with=out.name)
    return QuantizeResult(out=out, validation=validation, fp32_updated=updated)


def copy_holdout_list(source: ModelManifest, staging: Path) -> None:
    """The FP32 model's held-out item list travels with its INT8 variant (same training, same holdout)."""
    holdout = ((source.source.get("training") or {}).get("holdout") or {}).get("file")
    if holdout and (source.directory / holdout).is_file():
        shutil.copyfile(source.directory / holdout, staging / holdout)


def record_fp32_latency(directory: Path, latency: dict, *, measured_with: str) -> Path:
    """Write FP32 latencies measured beside an INT8 twin into the FP32 manifest (only the manifest changes)."""
    fp32 = load_manifest(directory)
    metrics = {**fp32.metrics, "latency_ms": dict(latency), "latency_measured_with": measured_with}
    return write_manifest(dataclasses.replace(fp32, metrics=metrics))


def quantize_exported_onnx(
    onnx_path: Path,
    manifest_fields: dict,
    *,
    models_root: Path,
    calib_dir: Path,
    targets: tuple[str, ...] = ("onnx", "openvino"),
    options: QuantizeOptions | None = None,
) -> list[QuantizeResult]:
    """The trainers' hook: store an FP32 ``.onnx`` they exported as a variant, then quantize it to each target.

    ``manifest_fields`` are the manifest's fields (``name`` without the ``_fp32_onnx`` suffix, ``task``,
    ``input``, ``outputs``, ``labels``, ``decoder``, ``source``, ``license``). The FP32 variant goes to
    ``models_root/<name>_fp32_onnx``, the INT8 ones to ``models_root/<name>_int8_<target>``. TFLite INT8
    of a PyTorch model needs litert-torch (PT2E), which is not part of this hook.

    Raises:
        ManifestError: the fields do not make a valid manifest; anything ``quantize`` raises.
    """
    import shutil

    base = manifest_fields["name"]
    fp32_dir = models_root / f"{base}_fp32_onnx"
    with atomic_directory(fp32_dir) as staging:
        shutil.copyfile(onnx_path, staging / onnx_path.name)
        data = {
            **manifest_fields,
            "name": fp32_dir.name,
            "format": "onnx",
            "precision": "fp32",
            "model_file": onnx_path.name,
            "sha256": {onnx_path.name: sha256_file(staging / onnx_path.name)},
            "metrics": {"size_bytes": (staging / onnx_path.name).stat().st_size},
        }
        write_manifest(parse_manifest(data, staging))
    task = manifest_fields["task"]
    return [
        quantize(
            fp32_dir / onnx_path.name,
            task=task,
            target=target,
            calib_dir=calib_dir,
            out=models_root / f"{base}_int8_{target}",
            options=options,
        )
        for target in targets
    ]


def remeasure_latency(int8_dir: Path, *, runs: int = 30) -> dict:
    """Measure an INT8 variant and its FP32 reference again, interleaved, and update both manifests.

    For a quiet machine after a busy one: accuracy figures stay, latencies (and the load average
    at measurement) are replaced, REPORT.md is rewritten. Returns the new latencies.

    Raises:
        QuantizationError: the INT8 manifest names no stored FP32 reference beside it.
    """
    from converters.quantize.calibration import TaskInputs
    from converters.quantize.validator import load_average, measure_latency
    from edge_bml.image_io import read_image

    int8 = load_manifest(int8_dir)
    validation = dict(int8.metrics.get("validation", {}))
    reference_dir = int8_dir.parent / str(validation.get("reference"))
    if not (reference_dir / MANIFEST_NAME).is_file():
        raise QuantizationError(f"{int8.name}: its FP32 reference {reference_dir} is not beside it")
    stored = load_manifest(reference_dir)
    # As in ``quantize``: an INT8 OpenVINO model made from an ONNX/TFLite file was compared with that
    # file on OpenVINO; those FP32 times belong to no stored variant, so only the INT8 manifest gets them.
    same_runtime = stored.format == int8.format
    reference = stored if same_runtime else dataclasses.replace(stored, format=int8.format)
    detector = None
    if int8.task == "pose_landmarks":
        detector = _fp32_variant(int8, "pose_detection", int8.format, int8_dir.parent)
    with TaskInputs(reference, detector_manifest=detector) as inputs:
        tensor = inputs.from_image(read_image(ccp_val_images(count=1)[0]))
    latency = measure_latency(reference, int8, tensor, runs=runs)
    validation.update(latency_ms=latency, load_average_1min=load_average())
    int8 = dataclasses.replace(int8, metrics={**int8.metrics, "validation": validation, "latency_ms": latency["int8"]})
    write_manifest(int8)
    write_report(int8, int8_dir / REPORT_NAME)
    if same_runtime:
        record_fp32_latency(reference_dir, latency["fp32"], measured_with=int8.name)
    return latency
