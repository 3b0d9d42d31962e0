"""Peak memory of ``edge-bml serve`` idle and under concurrent large uploads (README, *serve*).

    .venv/bin/python -m benchmarks.server_memory [--workers 2] [--uploads 6] [--side 6300] [--catalog DIR]
        [--out benchmarks/results/server_memory.json]

Starts the server in a subprocess, reads its VmRSS/VmHWM from ``/proc`` (Linux), sends ``--uploads``
concurrent RGBA PNG photos of ``--side`` x ``--side`` pixels, and prints one JSON object (also written to
``--out``).
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import httpx
import numpy as np

from benchmarks.catalog_benchmark import print_and_save
from benchmarks.served import served
from edge_bml.machine import current_machine


def _status_mb(pid: int) -> dict[str, float]:
    fields = {}
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(("VmRSS", "VmHWM")):
            name, value, _ = line.split()
            fields[name.rstrip(":")] = round(int(value) / 1024, 1)
    return fields


def _rgba_png(side: int) -> bytes:
    image = np.zeros((side, side, 4), np.uint8)
    image[..., 0] = np.linspace(0, 255, side, dtype=np.uint8)[None]
    image[..., 2] = np.linspace(0, 255, side, dtype=np.uint8)[:, None]
    image[..., 3] = 255
    image[side // 3 : 2 * side // 3, side // 3 : 2 * side // 3, 3] = 128
    return cv2.imencode(".png", image, [cv2.IMWRITE_PNG_COMPRESSION, 9])[1].tobytes()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--uploads", type=int, default=6)
    parser.add_argument("--side", type=int, default=6300)
    parser.add_argument("--catalog", help="serve this catalog (default: none)")
    parser.add_argument("--out", type=Path, help="also write the result JSON here")
    args = parser.parse_args()
    options = ["--workers", str(args.workers), "--queue", str(args.uploads), "--per-client", str(args.uploads)]
    with served(*options, *(["--catalog", args.catalog] if args.catalog else [])) as (server, url):
        idle = _status_mb(server.pid)
        photo = _rgba_png(args.side)

        def post(_):
            return httpx.post(f"{url}/v1/look", content=photo, timeout=600).status_code

        with ThreadPoolExecutor(args.uploads) as pool:
            statuses = list(pool.map(post, range(args.uploads)))
        loaded = _status_mb(server.pid)
    machine = current_machine()
    result = {
        "machine": {"cpu": machine.cpu, "isa": machine.isa},
        "workers": args.workers,
        "uploads": args.uploads,
        "catalog": args.catalog,
        "photo": f"{args.side}x{args.side} RGBA PNG, {len(photo)} bytes",
        "statuses": statuses,
        "idle_rss_mb": idle.get("VmRSS"),
        "peak_rss_mb": loaded.get("VmHWM"),
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    print_and_save(result, args.out)


if __name__ == "__main__":
    main()
