"""Peak resident memory of ``edge-bml look`` with every model loaded and the catalog open; model and catalog sizes.

Run: python -m benchmarks.memory --catalog catalog_shards/clothing --out benchmarks/results/memory.json

Each command runs in its own process and its peak resident set (``ru_maxrss`` from ``wait4``) is
read when it exits: the figure a kiosk sizes its RAM by. ``python -c 'import edge_bml'`` gives the
interpreter's own share. Sizes are the bytes of every file a manifest names.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.catalog_benchmark import print_and_save

REPO = Path(__file__).resolve().parents[1]


# Runs the command as the only child of a fresh interpreter, whose RUSAGE_CHILDREN peak is then that command's.
_WRAPPER = (
    "import json, resource, subprocess, sys, time\n"
    "t = time.perf_counter()\n"
    "done = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
    "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024\n"
    "last = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ''\n"
    "print(json.dumps({'rc': done.returncode, 'peak': peak, 's': time.perf_counter() - t, 'last': last,"
    " 'err': done.stderr[-500:]}))\n"
)


def peak_rss_mb(command: list[str]) -> tuple[float, float, str]:
    """Run ``command``; its peak resident memory in MB, its wall seconds, and its last output line.

    Raises:
        RuntimeError: the command failed.
    """
    done = subprocess.run([sys.executable, "-c", _WRAPPER, *command], capture_output=True, text=True, check=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if result["rc"]:
        raise RuntimeError(f"{' '.join(command)} failed: {result['err'].strip()}")
    return result["peak"], result["s"], result["last"]


def _models(catalog: Path, precision: str, threads: int) -> dict[str, str]:
    """The variants ``edge-bml look`` picks for these options (loaded here, in this process)."""
    from edge_bml.pipeline import LookOptions, LookPipeline

    with LookPipeline(LookOptions(catalog=catalog, precision=precision, threads=threads)) as pipeline:
        return dict(pipeline.models)


def variant_sizes(models: Path) -> dict[str, int]:
    """Bytes of each variant's model files (those its manifest hashes)."""
    sizes = {}
    for manifest in sorted(models.glob("*/manifest.json")):
        names = json.loads(manifest.read_text()).get("sha256", {})
        sizes[manifest.parent.name] = sum((manifest.parent / name).stat().st_size for name in names)
    return sizes


def folder_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--catalog", type=Path, default=REPO / "catalog_shards" / "clothing")
    parser.add_argument("--photo", type=Path, help="a full-shot photo (default: the first CCP val photo)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    from edge_bml.data_paths import data_dir

    photo = args.photo
    if photo is None:
        annotations = json.loads((data_dir() / "ccp" / "annotations.json").read_text())
        photo = data_dir() / "ccp" / next(i["file"] for i in annotations["images"] if i["split"] == "val")
    edge_bml = [sys.executable, "-m", "edge_bml.cli.main"]
    runs = {"python -c 'import edge_bml' (interpreter and imports only)": [sys.executable, "-c", "import edge_bml"]}
    for precision in ("auto", "fp32", "int8"):
        runs[f"edge-bml look --precision {precision} --threads {args.threads} (with the catalog)"] = [
            *edge_bml,
            "look",
            str(photo),
            "--catalog",
            str(args.catalog),
            "--precision",
            precision,
            "--threads",
            str(args.threads),
            "--json",
        ]
    peaks = []
    for label, command in runs.items():
        peak, seconds, last = peak_rss_mb(command)
        entry = {"command": label, "peak_rss_mb": round(peak, 1), "wall_s": round(seconds, 2)}
        if last.startswith("{"):
            entry["articles"] = len(json.loads(last).get("articles", []))
            entry["models"] = _models(args.catalog, label.split("--precision ")[1].split()[0], args.threads)
        peaks.append(entry)
        print(f"{entry['peak_rss_mb']:>8.1f} MB  {label}", file=sys.stderr)
    catalog_manifest = json.loads((args.catalog / "catalog.json").read_text())
    result = {
        "photo": photo.name,
        "peak_rss": peaks,
        "model_bytes": variant_sizes(REPO / "quantized_models"),
        "catalog": {
            "folder": str(args.catalog.relative_to(REPO) if args.catalog.is_relative_to(REPO) else args.catalog),
            "products": catalog_manifest.get("total"),
            "dtype": catalog_manifest.get("dtype"),
            "embedder": catalog_manifest.get("embedder_name"),
            "bytes_on_disk": folder_bytes(args.catalog),
        },
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "load_average_1min": round(os.getloadavg()[0], 2),
    }
    print_and_save(result, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
