"""Are two catalogs the same? Counts per category, and how far their top-k agree for the same queries.

Two builds of one table (local and on Ray, or before and after a change) may differ slightly in search:
int8 rounding and HNSW's insertion order. Their product colours must be equal.
The queries are stored vectors of the first catalog's products.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edge_bml.catalog.search import Catalog


def compare_catalogs(first: str | Path, second: str | Path, *, queries: int = 20, k: int = 10, seed: int = 0) -> dict:
    """``counts_equal``, per-category counts, how many products (by id) carry another colour in the second
    catalog, and the mean top-``k`` overlap of ``queries`` searches.

    Raises:
        CatalogError: either catalog cannot be opened.
    """
    with Catalog(first) as a, Catalog(second) as b:
        rng = np.random.default_rng(seed)
        rows = list(a.products.values())
        chosen = [rows[i] for i in rng.choice(len(rows), size=min(queries, len(rows)), replace=False)]
        overlaps = []
        for row in chosen:
            stored = np.asarray(a.shards[row["category"]][np.uint64(row["key"])], np.float32).reshape(-1)
            query = stored / max(float(np.linalg.norm(stored)), 1e-9)
            ours = {m.id for m in a.search(query, category=row["category"], k=k, colour_weight=0)}
            theirs = {m.id for m in b.search(query, category=row["category"], k=k, colour_weight=0)}
            overlaps.append(len(ours & theirs) / max(len(ours), 1))
        theirs_by_id = {row["id"]: row for row in b.products.values()}
        shared = [(row, theirs_by_id[row["id"]]) for row in rows if row["id"] in theirs_by_id]
        differing = sum(1 for ours, theirs in shared if ours.get("colour") != theirs.get("colour"))
        return {
            "counts_equal": a.manifest.counts == b.manifest.counts,
            "colours_compared": len(shared),
            "colours_differing": differing,
            "counts": [a.manifest.counts, b.manifest.counts],
            "queries": len(chosen),
            "top_k": k,
            "mean_overlap": round(float(np.mean(overlaps)), 4) if overlaps else None,
            "min_overlap": round(float(np.min(overlaps)), 4) if overlaps else None,
        }
