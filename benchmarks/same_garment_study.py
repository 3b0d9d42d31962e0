"""Whether a top and an outerwear box on (almost) the same place name one garment twice (DEVELOPERS.md, #13).

    .venv/bin/python -m benchmarks.same_garment_study [--model quantized_models/article_detector_int8_tflite]
        [--iou 0.6 0.7 0.8 0.9] [--pair top outerwear] [--inside] [--without-rule]

Top and outerwear are not exclusive: a jacket is worn over a top, and CCP labels both. But the demo's
0008 shows ``top 0.12`` on the very box of ``outerwear 0.83``. This counts, on CCP val with the pose
stage's person crop, the shown top/outerwear pairs that overlap at IoU > each ``--iou``, and whether the
lower-scored box is right (it matches, IoU >= 0.5, a labelled article of its category that the better
box's category does not already match there). It also counts how often the ground truth itself holds a
top and an outerwear at such an IoU (all 804 photos), which a rule would contradict. Pairs are counted
in each direction (top under a better outerwear, outerwear under a better top). ``--without-rule`` counts
them as the detector shows them without ``ExclusiveRule.worn_over`` (the rule this study chose).
``--pair`` takes two other categories; ``--inside`` measures how much of the lower-scored box lies inside
the better one instead of IoU (a top inside a dress's box, shorts inside the pants' box).
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import numpy as np

from edge_bml.data_paths import data_dir
from edge_bml.evaluation.detector_eval import load_annotations
from edge_bml.geometry import box_iou, iou_matrix, share_inside
from edge_bml.image_io import read_image
from edge_bml.manifest import load_manifest
from edge_bml.stages.detector import ArticleDetector
from edge_bml.stages.pose import PoseEstimator

DEFAULT_PAIR = ("top", "outerwear")


def _truth(info: dict, name: str) -> np.ndarray:
    return np.array([o["box"] for o in info["objects"] if o["category"] == name], np.float64).reshape(-1, 4)


def truth_pairs(
    images: list[dict], pair: tuple[str, str], thresholds: list[float], *, inside: bool = False
) -> dict[float, int]:
    """Labelled pairs of the two categories in one photo at IoU (or, ``inside``, the larger share of one
    box inside the other) > each threshold."""
    counts = dict.fromkeys(thresholds, 0)
    for info in images:
        tops, jackets = _truth(info, pair[0]), _truth(info, pair[1])
        if len(tops) and len(jackets):
            if inside:
                ious = np.array(
                    [[max(share_inside(a[None], b)[0], share_inside(b[None], a)[0]) for b in jackets] for a in tops]
                )
            else:
                ious = iou_matrix(tops, jackets)
            for t in thresholds:
                counts[t] += int((ious > t).sum())
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=Path("quantized_models/article_detector_int8_tflite"))
    parser.add_argument("--iou", type=float, nargs="+", default=[0.6, 0.7, 0.8, 0.9])
    parser.add_argument("--pair", nargs=2, default=list(DEFAULT_PAIR), help="two categories (default: top outerwear)")
    parser.add_argument(
        "--inside", action="store_true", help="measure the share of the lower-scored box inside the better one, not IoU"
    )
    parser.add_argument("--without-rule", action="store_true", help="count with the worn-over rule off")
    args = parser.parse_args(argv)
    pair = tuple(args.pair)

    annotations = data_dir() / "ccp" / "annotations.json"
    every = load_annotations(annotations)
    images = [info for info in every if info.get("split") == "val"]
    manifest = load_manifest(args.model)
    found = {t: [] for t in args.iou}
    with ArticleDetector(manifest) as detector, PoseEstimator.create_from_options() as pose:
        if args.without_rule and detector.exclusive is not None:
            detector.exclusive = dataclasses.replace(detector.exclusive, worn_over=())
        index = {label: i for i, label in enumerate(detector.labels)}
        for info in images:
            image = read_image(info["path"])
            person = pose(image).main
            shown = detector(image, None if person is None else person.person_box)
            tops = np.flatnonzero(shown.class_id == index[pair[0]])
            jackets = np.flatnonzero(shown.class_id == index[pair[1]])
            for i in tops:
                for j in jackets:
                    better, worse = (i, j) if shown.confidence[i] >= shown.confidence[j] else (j, i)
                    if args.inside:
                        iou = float(share_inside(shown.xyxy[[worse]], shown.xyxy[better])[0])
                    else:
                        iou = float(box_iou(shown.xyxy[i], shown.xyxy[j : j + 1])[0])
                    worse_name, better_name = shown.labels[shown.class_id[worse]], shown.labels[shown.class_id[better]]
                    hits = iou_matrix(shown.xyxy[[worse]], _truth(info, worse_name))[0] >= 0.5
                    ok = bool(hits.any())
                    line = (
                        f"{Path(info['path']).name}: {worse_name} {shown.confidence[worse]:.2f} under "
                        f"{better_name} {shown.confidence[better]:.2f}, IoU {iou:.2f}: {'right' if ok else 'wrong'}"
                    )
                    for t in args.iou:
                        if iou > t:
                            found[t].append((worse_name, ok, line))
    ground = truth_pairs(every, pair, args.iou, inside=args.inside)
    print(f"{manifest.name}, CCP val ({len(images)} photos), shown {pair[0]}/{pair[1]} pairs:")
    for t in args.iou:
        print(f"  IoU > {t}: labelled pairs at this IoU in all {len(every)} photos: {ground[t]}")
        for under, outer in (pair, pair[::-1]):
            pairs = [ok for name, ok, _ in found[t] if name == under]
            print(
                f"    {under} under a better {outer}: {len(pairs)} pairs, the {under} right in {sum(pairs)}, "
                f"wrong in {len(pairs) - sum(pairs)}"
            )
    for _, _, line in found[min(args.iou)]:
        print("  " + line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
