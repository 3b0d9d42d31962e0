"""Does a polite client get served while a greedy one hammers the server? (README, *serve*)

    .venv/bin/python -m benchmarks.server_fairness [--seconds 30] [--greedy 8]
        [--out benchmarks/results/server_fairness.json]

Two servers in turn (``--per-client`` at its default, then as large as all places: no share), each
with 1 worker and 4 waiting places and no catalog. A greedy client keeps ``--greedy`` requests in
flight from 127.0.0.1, ignoring ``Retry-After``; a polite client sends one request at a time from
127.0.0.2 and waits ``Retry-After`` after a 503. Prints the polite client's served share as JSON (also
written to ``--out``).
"""

from __future__ import annotations

import argparse
import threading
import time
from pathlib import Path

import httpx

from benchmarks.catalog_benchmark import print_and_save
from benchmarks.served import served
from edge_bml.machine import current_machine


def _run(per_client: int | None, seconds: float, greedy: int, photo: bytes) -> dict:
    options = ["--workers", "1", "--queue", "4"] + (["--per-client", str(per_client)] if per_client else [])
    with served(*options, host="0.0.0.0") as (_, url):
        counts = _compete(url, seconds, greedy, photo)
    return {"per_client": per_client or "default (3 of 5 places)", **counts}


def _compete(url: str, seconds: float, greedy: int, photo: bytes) -> dict:
    end = time.monotonic() + seconds
    counts = {"greedy_served": 0, "greedy_refused": 0, "polite_served": 0, "polite_refused": 0}
    lock = threading.Lock()

    def hammer():
        with httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.1")) as client:
            while time.monotonic() < end:
                status = client.post(f"{url}/v1/look", content=photo, timeout=60).status_code
                with lock:
                    counts["greedy_served" if status == 200 else "greedy_refused"] += 1

    threads = [threading.Thread(target=hammer) for _ in range(greedy)]
    for thread in threads:
        thread.start()
    with httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.2")) as client:
        while time.monotonic() < end:
            response = client.post(f"{url}/v1/look", content=photo, timeout=60)
            if response.status_code == 200:
                counts["polite_served"] += 1
            else:
                counts["polite_refused"] += 1
                time.sleep(float(response.headers.get("retry-after", "1")))
    for thread in threads:
        thread.join()
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--greedy", type=int, default=8)
    parser.add_argument("--photo", default=None, help="a photo (default: CCP val 0061 under EDGE_BML_DATA)")
    parser.add_argument("--out", type=Path, help="also write the result JSON here")
    args = parser.parse_args()
    from edge_bml.data_paths import data_dir

    photo_path = args.photo or str(data_dir() / "ccp" / "photos" / "0061.jpg")
    photo = open(photo_path, "rb").read()
    machine = current_machine()
    runs = [_run(None, args.seconds, args.greedy, photo), _run(5, args.seconds, args.greedy, photo)]
    result = {
        "machine": {"cpu": machine.cpu, "isa": machine.isa},
        "seconds": args.seconds,
        "greedy": args.greedy,
        "runs": runs,
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    print_and_save(result, args.out)


if __name__ == "__main__":
    main()
