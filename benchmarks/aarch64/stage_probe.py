"""Each model on the same real inputs, on this machine: where do x86 and aarch64 start to differ?

For each photo: the decoded pixels, then each model's input tensor made by the runtime's own functions
(``edge_bml.input_hashes.model_inputs``: from fixed boxes, so that no earlier model's output feeds a later
model's input), and each variant's raw outputs at 1 thread. Writes ``OUT/inputs.json`` (sha256 of the pixels
and of every input tensor) and ``OUT/<photo>__<variant>.npz``; ``compare.py`` compares two such folders.
With ``--hashes-out FILE``, also the hashes of every model input for the first ``--hash-photos`` photos
(``edge_bml.input_hashes.input_hashes``), as ``tests/test_exact_inputs.py`` compares them on x86.

Usage: python stage_probe.py --annotations ccp/annotations.json --photos 2 --out DIR [--variants a,b,...]
       [--hashes-out FILE --hash-photos 3]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import sys
from pathlib import Path

import numpy as np

DEFAULT_VARIANTS = (
    "blazepose_detection_fp32_tflite,blazepose_detection_int8_tflite,blazepose_detection_int8_openvino,"
    "blazepose_landmarks_full_fp32_tflite,blazepose_landmarks_full_int8_tflite,blazepose_landmarks_full_int8_openvino,"
    "article_detector_fp32_tflite,article_detector_int8_tflite,article_detector_int8_onnx,"
    "article_detector_int8_openvino,embedder_triplet_fp32_tflite,embedder_triplet_int8_tflite,"
    "embedder_triplet_int8_onnx,embedder_triplet_int8_openvino"
)


def _sha(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()[:16]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--annotations", type=Path, required=True, help="ccp/annotations.json")
    parser.add_argument("--photos", type=int, default=2, help="first N CCP val photos")
    parser.add_argument("--variants", default=DEFAULT_VARIANTS)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--hashes-out", type=Path, help="write every model input's hash here (JSON)")
    parser.add_argument("--hash-photos", type=int, default=3, help="photos for --hashes-out")
    args = parser.parse_args(argv)

    import edge_bml  # noqa: F401  (loads the system libstdc++ first)
    from edge_bml.backends import open_backend
    from edge_bml.image_io import read_image
    from edge_bml.input_hashes import input_hashes, model_inputs
    from edge_bml.manifest import load_manifest
    from edge_bml.model_registry import models_dir

    root = args.annotations.parent
    images = [i for i in json.loads(args.annotations.read_text())["images"] if i["split"] == "val"][: args.photos]
    args.out.mkdir(parents=True, exist_ok=True)
    report: dict = {}
    models = {}
    for name in [v for v in args.variants.split(",") if v]:
        folder = models_dir() / name
        if folder.is_dir():
            manifest = load_manifest(folder)
            models[name] = (manifest, folder / manifest.model_file)
    for image_info in images:
        photo = root / image_info["file"]
        image = read_image(photo)
        entry: dict = {"pixels": _sha(image), "inputs": {}}
        for name, (manifest, path) in models.items():
            tensors = list(model_inputs(manifest, image, image_info))
            if not tensors:
                continue
            tensor = tensors[0][1]  # the model runs on the first; the others (whole photo) are only hashed
            for label, other in tensors[1:]:
                entry["inputs"][f"{name}/{label}"] = _sha(np.asarray(other))
            tensor = np.asarray(tensor)
            if tensor.ndim == 3:
                tensor = tensor[None]
            entry["inputs"][name] = _sha(tensor)
            print(f"stage probe: {photo.name} {name}", file=sys.stderr, flush=True)
            backend = open_backend(path, threads=1)
            try:
                spec = backend.inputs[0]
                feeds = {spec.name: tensor.astype(spec.dtype, copy=False)}
                outputs = backend.run(feeds)
            finally:
                backend.close()
            np.savez(args.out / f"{photo.stem}__{name}.npz", **{f"out{i}": v for i, v in enumerate(outputs.values())})
        report[photo.name] = entry
    (args.out / "inputs.json").write_text(json.dumps(report, indent=1) + "\n")
    if args.hashes_out:
        hashes = {
            "what": "sha256[:16] of every model input (edge_bml.input_hashes), written by stage_probe.py",
            "machine": f"{platform.machine()} {platform.python_version()}",
            "versions": {name: _version(name) for name in ("numpy", "opencv-python-headless", "ai-edge-litert")},
            "photos": input_hashes(args.annotations, args.hash_photos),
        }
        args.hashes_out.parent.mkdir(parents=True, exist_ok=True)
        args.hashes_out.write_text(json.dumps(hashes, indent=1) + "\n")
    return 0


def _version(distribution: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(distribution)
    except PackageNotFoundError:
        return "absent"


if __name__ == "__main__":
    raise SystemExit(main())
