"""Looks per second of ``edge-bml serve --workers 2`` at concurrency 1, 2 and 4 (README, *Speed*).

    .venv/bin/python -m benchmarks.server_throughput [--catalog catalog_shards/clothing] [--seconds 20]

Each level sends CCP val photos from that many client threads for ``--seconds`` and reports looks per
second and the p50/p95 latency seen by clients, on one machine, in one run.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np

from benchmarks.served import served
from edge_bml.data_paths import data_dir
from edge_bml.machine import current_machine


def _level(url: str, photos: list[bytes], clients: int, seconds: float) -> dict:
    end = time.monotonic() + seconds
    latencies, refused, lock = [], 0, threading.Lock()

    def client(offset: int) -> None:
        nonlocal refused
        with httpx.Client(timeout=120) as http:
            i = offset
            while time.monotonic() < end:
                started = time.perf_counter()
                status = http.post(f"{url}/v1/look", content=photos[i % len(photos)]).status_code
                with lock:
                    if status == 200:
                        latencies.append(time.perf_counter() - started)
                    else:
                        refused += 1
                i += clients

    started = time.monotonic()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(client, range(clients)))
    elapsed = time.monotonic() - started
    ms = np.asarray(latencies) * 1000
    return {
        "clients": clients,
        "looks_per_s": round(len(latencies) / elapsed, 2),
        "p50_ms": round(float(np.percentile(ms, 50)), 1) if len(ms) else None,
        "p95_ms": round(float(np.percentile(ms, 95)), 1) if len(ms) else None,
        "served": len(latencies),
        "refused": refused,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--catalog", default="catalog_shards/clothing")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    annotations = json.loads((data_dir() / "ccp" / "annotations.json").read_text())["images"]
    photos = [(data_dir() / "ccp" / i["file"]).read_bytes() for i in annotations if i["split"] == "val"][:30]
    options = ["--catalog", args.catalog, "--workers", str(args.workers), "--threads", "1", "--queue", "8"]
    options += ["--per-client", "16"]
    with served(*options) as (_, url):
        httpx.post(f"{url}/v1/look", content=photos[0], timeout=120)  # warm-up
        levels = [_level(url, photos, clients, args.seconds) for clients in (1, 2, 4)]
    machine = current_machine()
    print(json.dumps({"machine": {"cpu": machine.cpu, "isa": machine.isa}, "workers": args.workers, "levels": levels}))


if __name__ == "__main__":
    main()
