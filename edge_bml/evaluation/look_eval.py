"""The whole look scored against CCP annotations: ``final(X, Y)`` of the seed design.

Per photo the pipeline runs as in production (its timings and gate count); detection AP uses the
same detector at a low score threshold on the same person crop, as the detector evaluation does.
Category precision@5 asks whether the embedding finds products of the right category: each detected
article that overlaps (IoU >= 0.5) a ground-truth article of its category queries the whole catalog
(no category filter; the production search filters by category, so its matches always agree).
The photo-level figures (``photo_retrieval``) score the products the look returns, as shown to the
user, so that the naive whole-image baseline can be compared on the same terms.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from edge_bml.evaluation.detection_ap import DetectionEvaluator, labelled_boxes
from edge_bml.evaluation.detector_eval import EVAL_SCORE_THRESHOLD
from edge_bml.evaluation.lookalike import (
    LookalikeScore,
    catalog_colours,
    category_label_ids,
    garment_truth_colour,
    read_label_map,
)
from edge_bml.evaluation.photo_retrieval import PhotoRetrievalScore
from edge_bml.evaluation.same_kind import KindMap, SameKindScore, same_kind_score
from edge_bml.geometry import iou_matrix
from edge_bml.image_io import decode_timed
from edge_bml.pipeline import STAGES, LookPipeline
from edge_bml.stages.article_views import crop_article
from edge_bml.timing import StageTimer, latency_percentiles


def evaluate_look(
    pipeline: LookPipeline,
    images: list,
    annotations: list[dict],
    *,
    progress=None,
    ccp_dir: Path | None = None,
    kind_map: KindMap | None = None,
) -> dict:
    """Score ``pipeline`` on ``images`` (paths or RGB arrays) with CCP-format ``annotations`` (same order).

    With ``ccp_dir`` (where the annotations' ``label_map`` files are) and a catalog, the look-alike
    colour figures are added: each returned article that overlaps a labelled article of its category
    (IoU >= 0.5) is scored on its top-5 matches as the look returned them (``evaluation.lookalike``);
    with ``kind_map`` too, the same-kind figures of those articles (``evaluation.same_kind``).

    Raises:
        ValueError: images and annotations differ in length.
    """
    if len(images) != len(annotations):
        raise ValueError(f"{len(images)} images but {len(annotations)} annotations")
    labels = pipeline.detector.labels
    index = {label: i for i, label in enumerate(labels)}
    evaluator = DetectionEvaluator(labels, max_detections=100)
    timings: dict[str, list[float]] = {stage: [] for stage in STAGES}
    gated, precisions = 0, {}
    photo_score = PhotoRetrievalScore(pipeline.catalog.categories if pipeline.catalog is not None else ())
    lookalike = kinds = kinds_note = None
    if ccp_dir is not None and pipeline.catalog is not None:
        lookalike = LookalikeScore(catalog_colours(pipeline.catalog))
        if kind_map is not None:
            kinds, kinds_note = same_kind_score(pipeline.catalog, kind_map)
        fine_ids = category_label_ids(json.loads((ccp_dir / "annotations.json").read_text()))
    for n, (image, annotation) in enumerate(zip(images, annotations), 1):
        if progress:
            progress(n, len(images))
        timer = StageTimer()
        rgb = decode_timed(image, timer)
        look = pipeline(rgb, timer=timer)
        for stage in STAGES:
            timings[stage].append(look.timings_ms.get(stage, 0.0))
        objects = [o for o in annotation.get("objects", []) if o["category"] in index]
        gt_boxes, gt_classes = labelled_boxes(annotation, labels)
        photo_score.add([o["category"] for o in objects], [m.category for a in look.articles for m in a.matches])
        if look.stopped:
            gated += 1
            evaluator.add(np.zeros((0, 4)), np.zeros(0), np.zeros(0, np.int64), gt_boxes, gt_classes)
            continue
        found = pipeline.detector(rgb, look.person_box, score_threshold=EVAL_SCORE_THRESHOLD)
        evaluator.add(found.xyxy, found.confidence, found.class_id, gt_boxes, gt_classes)
        if pipeline.catalog is not None:
            _category_precision(pipeline, rgb, look, gt_boxes, gt_classes, labels, precisions)
        if lookalike is not None and "label_map" in annotation:
            _score_lookalike(lookalike, kinds, rgb, read_label_map(ccp_dir, annotation), look, objects, fine_ids)
    summary = evaluator.summary()
    per_category = {c: round(float(np.mean(v)), 4) for c, v in sorted(precisions.items())}
    every = [x for values in precisions.values() for x in values]
    return {
        "images": len(images),
        "map50": summary["map50"],
        "map50_95": summary["map50_95"],
        "ap50_per_category": summary["ap50_per_category"],
        "category_precision_at_5": round(float(np.mean(every)), 4) if every else None,
        "category_precision_at_5_per_category": per_category,
        "articles_scored": len(every),
        "gated_share": round(gated / max(len(images), 1), 4),
        "photo_level": photo_score.summary() if pipeline.catalog is not None else None,
        **({"lookalike": lookalike.result()} if lookalike is not None else {}),
        **({"same_kind": kinds.result()} if kinds is not None else {}),
        **({"same_kind": {"same_kind_at_5": None, "same_kind_note": kinds_note}} if kinds_note else {}),
        "latency_ms": {stage: latency_percentiles(values) for stage, values in timings.items()},
    }


def _score_lookalike(
    score: LookalikeScore, kinds: SameKindScore | None, rgb, label_map, look, objects: list[dict], fine_ids: dict
) -> None:
    """Each returned article with matches, against the labelled article of its category it overlaps most:
    its matches' colour and (with ``kinds``) kind."""
    for article in look.articles:
        same = [o for o in objects if o["category"] == article.category and article.category in score.colours]
        if not same or not len(article.matches):
            continue
        overlaps = iou_matrix(np.asarray([article.box], np.float64), np.asarray([o["box"] for o in same], np.float64))
        best = int(np.argmax(overlaps[0]))
        if overlaps[0, best] < 0.5:
            continue
        if kinds is not None:
            kinds.add(article.category, same[best].get("fine", ()), article.matches.ids)
        truth = garment_truth_colour(rgb, label_map, fine_ids[article.category], same[best]["box"])
        if truth is not None:
            score.add(article.category, truth, article.matches.ids)


def _category_precision(pipeline, rgb, look, gt_boxes, gt_classes, labels, precisions) -> None:
    if not look.articles or len(gt_boxes) == 0:
        return
    boxes = np.asarray([a.box for a in look.articles], np.float64)
    overlaps = iou_matrix(boxes, gt_boxes)
    for row, article in enumerate(look.articles):
        same = [j for j in range(len(gt_boxes)) if labels[gt_classes[j]] == article.category]
        if not same or overlaps[row, same].max() < 0.5 or article.category not in pipeline.catalog.shards:
            continue
        crop = crop_article(rgb, article.box)
        if crop is None:
            continue
        vector = pipeline.embedder.embed([crop])[0]
        matches = pipeline.catalog.search(vector, k=5)
        hits = [m.category == article.category for m in matches]
        precisions.setdefault(article.category, []).append(float(np.mean(hits)) if hits else 0.0)
