"""Does a filter hold in real looks? Every product returned passes it, and k come back wherever k pass.

    python -m benchmarks.filter_check --catalog catalog_shards/clothing --where kids=False --count 200

Runs the whole look (``auto`` variants, as ``edge-bml look --where``) on CCP photos, val first and then
train to make up ``--count``, and checks every article the catalog sells: each match passes the filter,
and the article has min(top-k, products of its category that pass) matches. Prints one JSON object
(``benchmarks/results/filter_check_*.json`` keeps the runs).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from edge_bml.catalog.attributes import normalise, parse_where
from edge_bml.data_paths import data_dir
from edge_bml.pipeline import LookOptions, LookPipeline


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--catalog", type=Path, required=True)
    parser.add_argument("--where", action="append", required=True, metavar="COLUMN=V1[,V2]")
    parser.add_argument("--count", type=int, default=200, help="photos (val first, then train)")
    parser.add_argument("--top-k", type=int, default=5)
    args = parser.parse_args(argv)
    where = parse_where(args.where)
    ccp = data_dir() / "ccp"
    images = json.loads((ccp / "annotations.json").read_text())["images"]
    photos = [i for i in images if i["split"] == "val"] + [i for i in images if i["split"] == "train"]
    photos = photos[: args.count]
    looks = articles = matches = outside = short = 0
    shortfalls = []
    with LookPipeline(LookOptions(catalog=args.catalog, top_k=args.top_k, where=where)) as pipeline:
        catalog = pipeline.catalog
        accepted = {c: {normalise(v) for v in vs} for c, vs in catalog.resolve_where(where).items()}
        for n, image in enumerate(photos, 1):
            look = pipeline(ccp / image["file"])
            looks += 1
            for article in look.articles:
                if article.category not in catalog.shards or article.colour is None and not len(article.matches):
                    continue
                articles += 1
                matches += len(article.matches)
                outside += sum(
                    any(normalise(m.attributes.get(c, "")) not in vs for c, vs in accepted.items())
                    for m in article.matches
                )
                wanted = min(args.top_k, catalog.passing_count(where, article.category))
                if len(article.matches) != wanted:
                    short += 1
                    shortfalls.append(
                        {"photo": image["file"], "category": article.category, "got": len(article.matches)}
                    )
            print(f"\r{n}/{len(photos)}", end="", file=sys.stderr)
        print(file=sys.stderr)
        models = pipeline.models
    splits = {s: sum(i["split"] == s for i in photos) for s in ("val", "train")}
    result = {
        "where": {c: list(v) for c, v in where.items()},
        "photos": looks,
        "splits": splits,
        "articles_matched": articles,
        "products_returned": matches,
        "products_outside_filter": outside,
        "articles_with_fewer_than_k_where_k_pass": short,
        "shortfalls": shortfalls[:20],
        "top_k": args.top_k,
        "models": models,
    }
    print(json.dumps(result))
    return 0 if outside == 0 and short == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
