"""``edge-bml-convert fetch blazepose``: BlazePose out of the MediaPipe wheel, without installing it.

The wheel comes from ``pip download --no-deps`` (which honours pip's index/mirror settings) or
from a local file. Each model is checked against its known sha256 and written with its manifest,
as the FP32 TFLite original and, converted losslessly, as an FP32 OpenVINO IR.
"""

from __future__ import annotations

import hashlib
import tempfile
import zipfile
from pathlib import Path

from converters.atomic_dir import atomic_directory
from converters.fetch.blazepose_spec import LICENSE, MEDIAPIPE_REQUIREMENT, MODELS, SOURCE
from converters.fetch.pip_wheel import pip_download_wheel
from edge_bml.errors import ChecksumMismatchError, EdgeBmlError
from edge_bml.manifest import parse_manifest, sha256_file, write_manifest
from edge_bml.stages.pose import LANDMARK_NAMES


class FetchError(EdgeBmlError):
    """The wheel could not be had, or does not hold the expected files."""


def download_wheel(dest: Path) -> Path:
    """``pip download --no-deps mediapipe==0.10.21`` into ``dest``; returns the wheel path.

    Raises:
        FetchError: pip failed (no network and no mirror), or produced no wheel.
    """
    hint = "Offline? Pass a wheel you have with --wheel PATH."
    try:
        return pip_download_wheel(MEDIAPIPE_REQUIREMENT, dest, "mediapipe-*.whl", offline_hint=hint)
    except RuntimeError as error:
        raise FetchError(str(error)) from error


def read_models(wheel: Path) -> dict[str, bytes]:
    """The BlazePose files from the wheel, by model name, each checked against its sha256.

    Raises:
        FetchError: not a zip, or a file is missing; ChecksumMismatchError: a file differs.
    """
    try:
        archive = zipfile.ZipFile(wheel)
    except (zipfile.BadZipFile, OSError) as error:
        raise FetchError(f"{wheel} is not a readable wheel: {error}") from error
    found = {}
    with archive:
        for spec in MODELS:
            try:
                data = archive.read(spec["wheel_path"])
            except KeyError:
                raise FetchError(f"{wheel} has no {spec['wheel_path']}; is it {MEDIAPIPE_REQUIREMENT}?") from None
            digest = hashlib.sha256(data).hexdigest()
            if digest != spec["sha256"]:
                raise ChecksumMismatchError(
                    f"{spec['wheel_path']} in {wheel.name} has sha256 {digest}, expected {spec['sha256']}"
                )
            found[spec["name"]] = data
    return found


def _manifest(spec: dict, directory: Path, name: str, fmt: str, model_file: str, files: list[str], wheel_name: str):
    labels = list(LANDMARK_NAMES) if spec["task"] == "pose_landmarks" else spec["labels"]
    data = {
        "name": name,
        "task": spec["task"],
        "format": fmt,
        "precision": "fp32",
        "model_file": model_file,
        "sha256": {name: sha256_file(directory / name) for name in files},
        "input": spec["input"],
        "outputs": spec["outputs"],
        "labels": labels,
        "decoder": spec["decoder"],
        "source": {
            **SOURCE,
            "wheel": wheel_name,
            "path_in_wheel": spec["wheel_path"],
            "converted_with": None if fmt == "tflite" else "openvino.convert_model (lossless FP32)",
        },
        "license": LICENSE,
        "metrics": {"size_bytes": sum((directory / name).stat().st_size for name in files)},
    }
    return parse_manifest(data, directory)


def write_blazepose(wheel: Path, out_root: Path, *, openvino: bool = True) -> list[Path]:
    """Write FP32 TFLite (and OpenVINO IR) variants of both BlazePose models under ``out_root``."""
    written = []
    models = read_models(wheel)
    for spec in MODELS:
        data = models[spec["name"]]
        file_name = Path(spec["wheel_path"]).name
        target = out_root / f"{spec['name']}_fp32_tflite"
        with atomic_directory(target) as staging:
            (staging / file_name).write_bytes(data)
            write_manifest(_manifest(spec, staging, target.name, "tflite", file_name, [file_name], wheel.name))
        written.append(target)
        if openvino:
            import openvino as ov

            target = out_root / f"{spec['name']}_fp32_openvino"
            stem = Path(file_name).stem
            with atomic_directory(target) as staging:
                model = ov.convert_model(str(written[-1] / file_name))
                ov.save_model(model, str(staging / f"{stem}.xml"), compress_to_fp16=False)
                files = [f"{stem}.xml", f"{stem}.bin"]
                write_manifest(_manifest(spec, staging, target.name, "openvino", files[0], files, wheel.name))
            written.append(target)
    return written


def fetch_blazepose(out_root: Path, wheel: Path | None = None, *, openvino: bool = True) -> list[Path]:
    """Get the wheel (given or downloaded) and write the BlazePose variants; returns their directories."""
    if wheel is not None:
        if not wheel.is_file():
            raise FetchError(f"no wheel at {wheel}")
        return write_blazepose(wheel, out_root, openvino=openvino)
    with tempfile.TemporaryDirectory() as tmp:
        return write_blazepose(download_wheel(Path(tmp)), out_root, openvino=openvino)
