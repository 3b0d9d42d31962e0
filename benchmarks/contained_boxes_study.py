"""How the same-category containment rule was chosen (README, *Exclusive articles*; ``ExclusiveRule.contained``).

    .venv/bin/python -m benchmarks.contained_boxes_study [--model quantized_models/article_detector_int8_tflite]
        [--contained 0.7] [--without-rule]

On CCP val, with the pose stage's person crop: the shown boxes that lie more than ``--contained`` of their
area inside a better-scored shown box of their own category, and whether each matches (IoU >= 0.5) a
labelled article of that category that the outer box does not match. ``--without-rule`` counts them as the
detector shows them without the rule (the rule's ``contained`` set to 1.0 plus a hair: never triggered).
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import numpy as np

from edge_bml.data_paths import data_dir
from edge_bml.evaluation.detector_eval import load_annotations
from edge_bml.geometry import iou_matrix, share_inside
from edge_bml.image_io import read_image
from edge_bml.manifest import load_manifest
from edge_bml.stages.detector import ArticleDetector
from edge_bml.stages.pose import PoseEstimator


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=Path("quantized_models/article_detector_int8_tflite"))
    parser.add_argument("--contained", type=float, default=0.7, help="share of a box inside the outer one")
    parser.add_argument("--without-rule", action="store_true", help="count with the containment rule off")
    args = parser.parse_args(argv)

    images = load_annotations(data_dir() / "ccp" / "annotations.json", split="val")
    manifest = load_manifest(args.model)
    pairs, right, examples = 0, 0, []
    with ArticleDetector(manifest) as detector, PoseEstimator.create_from_options() as pose:
        if args.without_rule and detector.exclusive is not None:
            detector.exclusive = dataclasses.replace(detector.exclusive, contained=1.0 + 1e-9)
        for info in images:
            image = read_image(info["path"])
            person = pose(image).main
            shown = detector(image, None if person is None else person.person_box)
            for class_id in set(shown.class_id.tolist()):
                idx = np.flatnonzero(shown.class_id == class_id)
                name = shown.labels[class_id]
                truth = np.array([o["box"] for o in info["objects"] if o["category"] == name], np.float64)
                for outer in idx:
                    inner = idx[shown.confidence[idx] < shown.confidence[outer]]
                    inner = inner[share_inside(shown.xyxy[inner], shown.xyxy[outer]) > args.contained]
                    for box in inner:
                        pairs += 1
                        ious = iou_matrix(shown.xyxy[[outer, box]], truth.reshape(-1, 4))
                        ok = bool(np.any((ious[1] >= 0.5) & (ious[0] < 0.5)))
                        right += ok
                        examples.append(f"{Path(info['path']).name} {name}: inner box {'right' if ok else 'wrong'}")
    print(f"{manifest.name}: {pairs} shown boxes inside a better one of their category")
    print(f"  {right} right (a labelled article the outer box misses), {pairs - right} wrong")
    for line in examples:
        print("  " + line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
