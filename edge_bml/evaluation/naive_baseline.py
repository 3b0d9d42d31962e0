"""The naive baseline a user would otherwise run: one global ImageNet embedding of the whole photo, brute force.

No pose, no detector: the photo is letterboxed as one crop, embedded by the plain pooled backbone
(``edge-bml-convert train embedder --plain-backbone``), and its ``k`` nearest products come from an
exact numpy search over every vector of a catalog built with that backbone. Scored with the same
photo-level figures as the look (``photo_retrieval``), and timed per step.
"""

from __future__ import annotations

import numpy as np

from edge_bml.catalog.search import Catalog
from edge_bml.evaluation.neighbour_overlap import stored_vectors
from edge_bml.evaluation.photo_retrieval import PhotoRetrievalScore
from edge_bml.image_io import decode_timed
from edge_bml.stages.embedder import ArticleEmbedder
from edge_bml.timing import StageTimer, latency_percentiles


class NaiveWholeImageSearch:
    """Whole photo -> one vector -> exact search over the catalog's vectors (read into memory)."""

    def __init__(self, embedder: ArticleEmbedder, catalog: Catalog) -> None:
        """Raises: CatalogEmbedderMismatchError: the catalog was built with another embedder."""
        catalog.check_embedder(embedder)
        self.embedder = embedder
        vectors = stored_vectors(catalog)
        by_id = {row["id"]: row for row in catalog.products.values()}
        self.ids = sorted(vectors)
        self.categories = [by_id[i]["category"] for i in self.ids]
        self.matrix = np.stack([vectors[i] for i in self.ids]).astype(np.float32)

    def __call__(self, rgb: np.ndarray, *, k: int = 5, timer: StageTimer | None = None) -> list[int]:
        """Row numbers of the ``k`` best products, best first."""
        timer = timer or StageTimer()
        with timer.stage("embed"):
            vector = self.embedder.embed([rgb])[0]
        with timer.stage("search"):
            scores = self.matrix @ vector
            top = np.argpartition(-scores, k)[:k]
            return top[np.argsort(-scores[top])].tolist()


def evaluate_naive(search: NaiveWholeImageSearch, images: list, annotations: list[dict], *, k: int = 5, progress=None):
    """Photo-level figures and per-step latency of the naive baseline on CCP-format annotations.

    Raises:
        ValueError: images and annotations differ in length.
    """
    if len(images) != len(annotations):
        raise ValueError(f"{len(images)} images but {len(annotations)} annotations")
    score = PhotoRetrievalScore(search.categories)
    timings: dict[str, list[float]] = {"decode": [], "embed": [], "search": [], "total": []}
    for n, (image, annotation) in enumerate(zip(images, annotations), 1):
        if progress:
            progress(n, len(images))
        timer = StageTimer()
        rgb = decode_timed(image, timer)
        rows = search(rgb, k=k, timer=timer)
        for stage, value in timer.as_dict().items():
            timings.setdefault(stage, []).append(value)
        score.add([o["category"] for o in annotation.get("objects", [])], [search.categories[r] for r in rows])
    return {
        "images": len(images),
        "k": k,
        **score.summary(),
        "latency_ms": {stage: latency_percentiles(values) for stage, values in timings.items() if values},
    }
