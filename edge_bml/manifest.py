"""Model manifests: everything needed to run a model file travels beside it in ``manifest.json``.

One directory per model variant (task x format x precision). The runtime reads input size,
layout, colour order, normalisation, output roles, labels and decoder parameters from here.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edge_bml.errors import ChecksumMismatchError, ManifestError, ModelNotFoundError

MANIFEST_NAME = "manifest.json"
SCHEMA_VERSION = 1
TASKS = ("pose_detection", "pose_landmarks", "detector", "embedder", "parser")
FORMATS = {"tflite": ".tflite", "onnx": ".onnx", "openvino": ".xml"}
PRECISIONS = ("fp32", "fp16", "int8")
# Largest model input side a manifest may give (pixels); a zero or huge size is a damaged manifest.
MAX_INPUT_SIDE = 8192


@dataclass(frozen=True)
class InputSpec:
    """How to turn an RGB uint8 image into the model's input tensor."""

    width: int
    height: int
    layout: str = "NHWC"
    color: str = "RGB"
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (255.0, 255.0, 255.0)
    resize: str = "letterbox"
    dtype: str = "float32"
    name: str | None = None

    def normalize(self, rgb: np.ndarray) -> np.ndarray:
        """Scale an HxWx3 RGB uint8 (or float) image and lay it out as a batch of one."""
        image = rgb if self.color == "RGB" else rgb[..., ::-1]
        tensor = (image.astype(np.float32) - np.asarray(self.mean, np.float32)) / np.asarray(self.std, np.float32)
        if self.layout == "NCHW":
            tensor = tensor.transpose(2, 0, 1)
        return np.ascontiguousarray(tensor[None]).astype(self.dtype, copy=False)


@dataclass(frozen=True)
class ModelManifest:
    """A parsed ``manifest.json``; ``directory`` is where it and its model files live."""

    name: str
    task: str
    format: str
    precision: str
    model_file: str
    sha256: dict[str, str]
    input: InputSpec
    outputs: dict[str, str] = field(default_factory=dict)
    labels: tuple[str, ...] = ()
    decoder: dict[str, Any] = field(default_factory=dict)
    source: dict[str, Any] = field(default_factory=dict)
    license: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    directory: Path = Path(".")

    @property
    def model_path(self) -> Path:
        return self.directory / self.model_file

    @property
    def backend(self) -> str:
        """The runtime that runs this variant natively."""
        return {"tflite": "litert", "onnx": "onnxruntime", "openvino": "openvino"}[self.format]

    @property
    def accuracy_passed(self) -> bool:
        """False only where a converter measured this variant and it failed its thresholds."""
        validation = self.metrics.get("validation", {})
        return bool(validation.get("passed", True))

    def verify(self) -> None:
        """Check that every file the manifest names exists and has the recorded sha256.

        Raises:
            ModelNotFoundError: a file is missing.
            ChecksumMismatchError: a file's content differs from what the manifest records.
        """
        for file_name, expected in self.sha256.items():
            path = self.directory / file_name
            if not path.is_file():
                raise ModelNotFoundError(f"{self.name}: model file {path} is missing")
            actual = sha256_file(path)
            if actual != expected:
                raise ChecksumMismatchError(
                    f"{self.name}: {path} has sha256 {actual[:12]}..., manifest says {expected[:12]}...; "
                    "the file was changed or truncated: restore it or rerun the converter that wrote it"
                )

    def derive(self, directory: Path | None = None, **changes: Any) -> ModelManifest:
        """A new variant's manifest from this one: top-level fields replaced by ``changes`` and the
        result checked as a manifest read from disk would be (``parse_manifest``), in ``directory``.

        Raises:
            ManifestError: the changes do not make a valid manifest.
        """
        return parse_manifest({**self.to_json(), **changes}, Path(directory or self.directory))

    def to_json(self) -> dict[str, Any]:
        data = {
            "schema": SCHEMA_VERSION,
            "name": self.name,
            "task": self.task,
            "format": self.format,
            "precision": self.precision,
            "model_file": self.model_file,
            "sha256": dict(self.sha256),
            "input": {
                "name": self.input.name,
                "width": self.input.width,
                "height": self.input.height,
                "layout": self.input.layout,
                "color": self.input.color,
                "mean": list(self.input.mean),
                "std": list(self.input.std),
                "resize": self.input.resize,
                "dtype": self.input.dtype,
            },
            "outputs": dict(self.outputs),
            "labels": list(self.labels),
            "decoder": self.decoder,
            "source": self.source,
            "license": self.license,
            "metrics": self.metrics,
        }
        data.update(self.extra)
        return data


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _check_inside(name: str, directory: Path, where: str) -> None:
    """Refuse a model file name that is absolute or climbs out of the variant's folder (``../../x``)."""
    path = Path(name)
    if not name or path.is_absolute() or ".." in path.parts or "\x00" in name:
        raise ManifestError(f"{where}: file {name!r} must be a plain name inside the variant's folder")


def _require(data: dict, key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if key not in data:
        raise ManifestError(f"{where}: missing field {key!r}")
    value = data[key]
    if not isinstance(value, kind):
        raise ManifestError(f"{where}: field {key!r} must be {kind}, got {type(value).__name__}")
    return value


def parse_manifest(data: dict[str, Any], directory: Path) -> ModelManifest:
    """Validate a manifest dict and return it as a ``ModelManifest``.

    Raises:
        ManifestError: a field is missing, of the wrong type, or has an unknown value.
    """
    where = str(directory / MANIFEST_NAME)
    if not isinstance(data, dict):
        raise ManifestError(f"{where}: must hold a JSON object")
    schema = data.get("schema", SCHEMA_VERSION)
    if schema != SCHEMA_VERSION:
        raise ManifestError(f"{where}: schema {schema} is not supported (this edge_bml reads {SCHEMA_VERSION})")
    task = _require(data, "task", str, where)
    fmt = _require(data, "format", str, where)
    precision = _require(data, "precision", str, where)
    if task not in TASKS:
        raise ManifestError(f"{where}: task {task!r} is not one of {TASKS}")
    if fmt not in FORMATS:
        raise ManifestError(f"{where}: format {fmt!r} is not one of {sorted(FORMATS)}")
    if precision not in PRECISIONS:
        raise ManifestError(f"{where}: precision {precision!r} is not one of {PRECISIONS}")
    model_file = _require(data, "model_file", str, where)
    sha256 = _require(data, "sha256", dict, where)
    if model_file not in sha256:
        raise ManifestError(f"{where}: sha256 has no entry for the model file {model_file!r}")
    for name in sha256:
        _check_inside(name, directory, where)
    for key in ("outputs", "decoder", "source", "metrics"):
        if not isinstance(data.get(key, {}), dict):
            raise ManifestError(f"{where}: field {key!r} must be a JSON object, got {type(data[key]).__name__}")
    for key in ("validation", "latency_ms"):
        if not isinstance(data.get("metrics", {}).get(key, {}), dict):
            raise ManifestError(f"{where}: metrics.{key} must be a JSON object")
    labels = data.get("labels", [])
    if not isinstance(labels, list) or not all(isinstance(label, str) for label in labels):
        raise ManifestError(f"{where}: field 'labels' must be a list of strings")
    raw_input = _require(data, "input", dict, where)
    try:
        input_spec = InputSpec(
            width=int(raw_input["width"]),
            height=int(raw_input["height"]),
            layout=raw_input.get("layout", "NHWC"),
            color=raw_input.get("color", "RGB"),
            mean=tuple(float(v) for v in raw_input.get("mean", (0.0, 0.0, 0.0))),
            std=tuple(float(v) for v in raw_input.get("std", (255.0, 255.0, 255.0))),
            resize=raw_input.get("resize", "letterbox"),
            dtype=raw_input.get("dtype", "float32"),
            name=raw_input.get("name"),
        )
    except (KeyError, TypeError, ValueError, OverflowError) as error:
        raise ManifestError(f"{where}: bad input spec: {error}") from error
    for side in (input_spec.width, input_spec.height):
        if not 1 <= side <= MAX_INPUT_SIDE:
            raise ManifestError(f"{where}: input width and height must be 1 to {MAX_INPUT_SIDE}, got {side}")
    if len(input_spec.mean) != 3 or len(input_spec.std) != 3:
        raise ManifestError(f"{where}: input mean and std must hold 3 numbers (R, G, B)")
    for key in ("layout", "color", "resize", "dtype"):
        if not isinstance(getattr(input_spec, key), str):
            raise ManifestError(f"{where}: input {key} must be a string")
    if input_spec.layout not in ("NHWC", "NCHW") or input_spec.color not in ("RGB", "BGR"):
        raise ManifestError(f"{where}: layout must be NHWC/NCHW and color RGB/BGR")
    if any(s == 0 for s in input_spec.std):
        raise ManifestError(f"{where}: input std must not be zero")
    known = {
        "schema",
        "name",
        "task",
        "format",
        "precision",
        "model_file",
        "sha256",
        "input",
        "outputs",
        "labels",
        "decoder",
        "source",
        "license",
        "metrics",
    }
    return ModelManifest(
        name=str(data.get("name", directory.name)),
        task=task,
        format=fmt,
        precision=precision,
        model_file=model_file,
        sha256={str(k): str(v) for k, v in sha256.items()},
        input=input_spec,
        outputs={str(k): str(v) for k, v in data.get("outputs", {}).items()},
        labels=tuple(str(v) for v in data.get("labels", ())),
        decoder=dict(data.get("decoder", {})),
        source=dict(data.get("source", {})),
        license=str(data.get("license", "")),
        metrics=dict(data.get("metrics", {})),
        extra={k: v for k, v in data.items() if k not in known},
        directory=directory,
    )


def load_manifest(directory: str | Path) -> ModelManifest:
    """Read and validate ``directory/manifest.json``.

    Raises:
        ModelNotFoundError: the directory has no manifest.
        ManifestError: the manifest is not valid JSON or misses a field.
    """
    directory = Path(directory)
    path = directory / MANIFEST_NAME
    if not path.is_file():
        raise ModelNotFoundError(f"no {MANIFEST_NAME} in {directory}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as error:
        raise ManifestError(f"{path}: not valid JSON: {str(error)[:200]}") from None
    except OSError as error:
        raise ManifestError(f"{path}: cannot be read ({error.strerror or error})") from None
    return parse_manifest(data, directory)


def write_json_atomic(path: str | Path, data: Any) -> None:
    """Write JSON to a temporary file beside ``path`` and rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2, sort_keys=False)
            handle.write("\n")
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_manifest(manifest: ModelManifest) -> Path:
    """Write a manifest atomically into its directory; returns the path written."""
    path = manifest.directory / MANIFEST_NAME
    write_json_atomic(path, manifest.to_json())
    return path
