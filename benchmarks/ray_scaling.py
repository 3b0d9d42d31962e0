"""Catalog build throughput: local against Ray with 1 and 2 workers, in one run (README, *Scale-out*).

    .venv/bin/python -m benchmarks.ray_scaling [--products 600] [--out benchmarks/results/ray_scaling.json]

The first ``--products`` rows of the clothing table are embedded by the INT8 TFLite embedder: locally
(one process, 1 thread) and on a local Ray with 1 and 2 actors (1 CPU each). Ray's products per second
are timed from a running Ray to the last Parquet part written: they count actor start-up (each actor
loads its embedder), scheduling, the embedding (photo reading, foreground, colour) and the Parquet parts,
not starting Ray itself (``wall_s_with_ray_start`` is the whole call, start-up and catalog writing
included). The local rate counts embedding and writing the catalog, with the embedder already loaded.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from edge_bml.catalog.build import build_catalog
from edge_bml.catalog.ray_build import RayOptions, build_catalog_on_ray
from edge_bml.data_paths import data_dir
from edge_bml.machine import current_machine
from edge_bml.manifest import load_manifest
from edge_bml.model_registry import models_dir
from edge_bml.stages.embedder import ArticleEmbedder

EMBEDDER = "embedder_triplet_int8_tflite"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--products", type=int, default=600)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    clothing = data_dir() / "clothing"
    manifest = load_manifest(models_dir() / EMBEDDER)
    runs = []
    with tempfile.TemporaryDirectory(prefix="edge_bml_ray_") as tmp:
        items = Path(tmp) / "items.csv"
        lines = (clothing / "items.csv").read_text().splitlines()
        items.write_text("\n".join(lines[: args.products + 1]) + "\n")
        with ArticleEmbedder(manifest, threads=1) as embedder:
            built = build_catalog(items, clothing, Path(tmp) / "local", embedder)
        seconds = built.metrics["build_seconds"]
        runs.append({"engine": "local", "workers": 1, "products_per_s": round(args.products / seconds, 1)})
        for workers in (1, 2):
            started = time.perf_counter()
            _, rate = build_catalog_on_ray(
                str(items), str(clothing), Path(tmp) / f"ray{workers}", manifest, options=RayOptions(workers=workers)
            )
            runs.append(
                {
                    "engine": "ray",
                    "workers": workers,
                    "products_per_s": round(rate, 1),
                    "wall_s_with_ray_start": round(time.perf_counter() - started, 1),
                }
            )
    machine = current_machine()
    result = {
        "machine": {"cpu": machine.cpu, "isa": machine.isa, "cores": machine.cores},
        "products": args.products,
        "embedder": EMBEDDER,
        "runs": runs,
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
