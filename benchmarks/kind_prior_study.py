"""Study (#27 lever 3): does a kind prior from a small head on the frozen embedder bring the same kind of garment?

A linear softmax head on the catalog embedder's vectors predicts an article's kind group (the kind map's
value sets: T-Shirt; Shirt or Blouse; Longsleeve or Hoodie; Body; Outwear; Blazer). Trained either on
CCP train street crops (their fine labels mapped by the kind map) or on the catalog's own product photos
(their label column). At search, the colour-ranked candidates (as the look ranks them) are re-ranked by
``score + w * log q(kind of the product)``, ``q`` the head's probabilities renormalised over the kinds the
article's category sells; products of a kind the map leaves out get the mean of the category's log q.
``same_kind_at_5`` is measured on CCP val crops as ``evaluate retrieval`` crops them.

    .venv/bin/python -m benchmarks.kind_prior_study --catalog catalog_shards/clothing --data ../shared/data

Prints one JSON object: the head's accuracy and same_kind_at_5 per training source and weight.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from edge_bml.catalog.attributes import normalise
from edge_bml.catalog.search import Catalog
from edge_bml.evaluation.same_kind import load_kind_map
from edge_bml.image_io import read_image
from edge_bml.stages.article_views import article_view
from edge_bml.stages.catalog_embedder import open_catalog_embedder

WEIGHTS = (0.0, 0.1, 0.2, 0.4)
CANDIDATES = 50
TOP = 5


def street_articles(data: Path, split: str, kind_map, embedder) -> dict:
    """Vectors, colours, categories and accepted kinds of CCP ``split`` articles the kind map counts."""
    annotations = json.loads((data / "ccp" / "annotations.json").read_text())
    fill = bool(embedder.manifest.decoder.get("foreground_fill", False))
    crops, colours, categories, kinds = [], [], [], []
    for image in annotations["images"]:
        if image["split"] != split:
            continue
        pixels = None
        for obj in image["objects"]:
            accepted = kind_map.kinds_of(obj["fine"])
            if not accepted:
                continue
            pixels = read_image(data / "ccp" / image["file"]) if pixels is None else pixels
            view = article_view(pixels, np.asarray(obj["box"], np.float32), obj["category"], parse=None, fill=fill)
            if view is None:
                continue
            crops.append(view.crop)
            colours.append(view.colour if view.colour is not None else np.full(3, np.nan, np.float32))
            categories.append(obj["category"])
            kinds.append(accepted)
    vectors = np.concatenate([embedder.embed(crops[i : i + 16]) for i in range(0, len(crops), 16)])
    return {"vectors": vectors, "colours": np.asarray(colours, np.float32), "categories": categories, "kinds": kinds}


def fit_softmax(x: np.ndarray, y: np.ndarray, classes: int, *, l2: float, steps: int, lr: float) -> tuple:
    """A multinomial logistic regression by full-batch gradient descent (no extra package needed)."""
    weights, bias, onehot = np.zeros((x.shape[1], classes)), np.zeros(classes), np.eye(classes)[y]
    for _ in range(steps):
        p = softmax(x @ weights + bias)
        weights -= lr * (x.T @ (p - onehot) / len(x) + l2 * weights)
        bias -= lr * (p - onehot).mean(0)
    return weights, bias


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def same_kind_at_5(catalog: Catalog, val: dict, head, group_of: dict, weight: float) -> float:
    """Mean share of each val article's top 5 (colour-ranked candidates re-ranked by the prior) of its kinds."""
    weights, bias = head
    per_category = {}
    for row in catalog.products.values():
        group = group_of.get(normalise((row.get("attributes") or {}).get(KIND_COLUMN, "")))
        if group is not None:
            per_category.setdefault(row["category"], set()).add(group)
    shares = []
    for vector, colour, category, kinds in zip(val["vectors"], val["colours"], val["categories"], val["kinds"]):
        found = list(
            catalog.search(vector, category=category, k=CANDIDATES, colour=None if np.isnan(colour).any() else colour)
        )
        groups = sorted(per_category.get(category, set()))
        p = softmax(vector @ weights + bias)
        q = np.zeros_like(p)
        q[groups] = p[groups] / p[groups].sum()
        logs = {g: np.log(q[g] + 1e-3) for g in groups}
        neutral = float(np.mean(list(logs.values()))) if logs else 0.0
        adjusted = [
            m.score + weight * logs.get(group_of.get(normalise(m.attributes.get(KIND_COLUMN, ""))), neutral)
            for m in found
        ]
        top = [found[i] for i in np.argsort(-np.asarray(adjusted), kind="stable")[:TOP]]
        shares.append(np.mean([normalise(m.attributes.get(KIND_COLUMN, "")) in kinds for m in top]))
    return round(float(np.mean(shares)), 3)


KIND_COLUMN = "label"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--catalog", type=Path, required=True)
    parser.add_argument("--data", type=Path, required=True, help="the data folder (ccp/ inside)")
    args = parser.parse_args()
    kind_map = load_kind_map()
    groups = sorted({tuple(sorted(v)) for v in kind_map.kinds.values()})
    group_of = {value: index for index, group in enumerate(groups) for value in group}
    with Catalog(args.catalog, trust=True) as catalog:
        embedder = open_catalog_embedder(catalog, threads=2)
        train = street_articles(args.data, "train", kind_map, embedder)
        val = street_articles(args.data, "val", kind_map, embedder)
        y_train = np.array([group_of[sorted(k)[0]] for k in train["kinds"]])
        y_val = np.array([group_of[sorted(k)[0]] for k in val["kinds"]])
        products = [
            row
            for row in catalog.products.values()
            if group_of.get(normalise((row.get("attributes") or {}).get(KIND_COLUMN, ""))) is not None
        ]
        product_vectors = np.stack(
            [
                np.asarray(catalog.shards[r["category"]].get(np.uint64(r["key"]), dtype=np.float32)).reshape(-1)
                for r in products
            ]
        )
        product_vectors /= np.linalg.norm(product_vectors, axis=1, keepdims=True)
        y_products = np.array([group_of[normalise(r["attributes"][KIND_COLUMN])] for r in products])
        sources = {
            "ccp_train_street_crops": (train["vectors"], y_train),
            "catalog_products": (product_vectors, y_products),
        }
        result = {"catalog": str(args.catalog), "embedder": catalog.manifest.embedder_name, "groups": groups}
        result["val_articles"] = len(y_val)
        for name, (x, y) in sources.items():
            head = fit_softmax(x, y, len(groups), l2=1e-2, steps=800, lr=0.5)
            accuracy = float((softmax(val["vectors"] @ head[0] + head[1]).argmax(1) == y_val).mean())
            result[name] = {
                "train_examples": len(y),
                "val_accuracy": round(accuracy, 3),
                "same_kind_at_5": {str(w): same_kind_at_5(catalog, val, head, group_of, w) for w in WEIGHTS},
            }
        embedder.close()
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
