"""Each model on the same real inputs, on this machine: where do x86 and aarch64 start to differ?

For each photo: the decoded pixels, then each model's input tensor made by the runtime's own functions
(``edge_bml.stages.inputs``) from fixed boxes (the annotation's person box and first article box, so that
no earlier model's output feeds a later model's input), and each variant's raw outputs at 1 thread.
Writes ``OUT/inputs.json`` (sha256 of the pixels and of every input tensor) and ``OUT/<photo>__<variant>.npz``.
``compare.py`` compares two such folders.

Usage: python stage_probe.py --annotations ccp/annotations.json --photos 2 --out DIR [--variants a,b,...]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import cv2
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
    args = parser.parse_args(argv)

    import edge_bml  # noqa: F401  (loads the system libstdc++ first)
    from edge_bml.backends import open_backend
    from edge_bml.image_io import read_image
    from edge_bml.manifest import load_manifest
    from edge_bml.model_registry import models_dir
    from edge_bml.resampling import resize_exact
    from edge_bml.stages.inputs import embedder_input, person_crop_input, pose_detection_input

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
        person_box = image_info["person_box"]
        article_box = [int(v) for v in image_info["objects"][0]["box"]]
        for name, (manifest, path) in models.items():
            if manifest.task == "pose_detection":
                tensor, _ = pose_detection_input(manifest, image)
            elif manifest.task == "pose_landmarks":  # the person box as a square crop, resized
                x0, y0, x1, y1 = person_box
                side = max(x1 - x0, y1 - y0)
                cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
                matrix = np.float32([[1, 0, side / 2 - cx], [0, 1, side / 2 - cy]])
                square = cv2.warpAffine(image, matrix, (int(side), int(side)), flags=cv2.INTER_LINEAR)
                spec = manifest.input
                tensor = spec.normalize(resize_exact(square, spec.width, spec.height))
            elif manifest.task == "detector":
                tensor, _ = person_crop_input(manifest, image, person_box)
            elif manifest.task == "embedder":
                x0, y0, x1, y1 = article_box
                tensor = embedder_input(manifest, np.ascontiguousarray(image[y0:y1, x0:x1]))
            else:
                continue
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
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
