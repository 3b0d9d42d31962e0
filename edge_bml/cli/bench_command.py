"""``edge-bml bench``: measure every installed model variant on this machine; ``auto`` then picks by it."""

from __future__ import annotations

import argparse
import json

from edge_bml.cli.arg_types import bench_seconds, thread_count


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "bench",
        help="measure each model variant on this CPU (a few seconds each) so that auto picks by this machine",
    )
    parser.add_argument(
        "--threads", type=thread_count, nargs="+", default=[1, 2], help="thread counts to time (default: 1 2)"
    )
    parser.add_argument(
        "--seconds",
        type=bench_seconds,
        default=1.0,
        help="seconds per variant and thread count, up to 600 (default 1.0)",
    )
    parser.add_argument("--task", action="append", default=None, help="only this task (repeatable), e.g. detector")
    parser.add_argument("--json", action="store_true", help="print the profile as JSON")
    parser.set_defaults(func=run)


def _shipped(manifest, threads: int) -> float | None:
    value = manifest.metrics.get("latency_ms", {}).get(f"threads_{threads}")
    return float(value) if isinstance(value, (int, float)) else None


def run(args: argparse.Namespace) -> int:
    from edge_bml.catalog.progress import Progress
    from edge_bml.latency_bench import measure_profile
    from edge_bml.latency_profile import load_or_new_profile, save_profile
    from edge_bml.machine import current_machine
    from edge_bml.model_registry import list_manifests

    if args.seconds <= 0:
        raise SystemExit("edge-bml bench: error: --seconds must be above 0")
    manifests = [m for m in list_manifests() if args.task is None or m.task in args.task]
    if not manifests:
        raise SystemExit(f"edge-bml bench: error: no model variants for tasks {args.task}")
    machine = current_machine()
    profile = load_or_new_profile(machine)  # an unreadable profile is replaced by a new measurement
    if not args.json:
        print(f"measuring {len(manifests)} variants at threads {args.threads} on {machine.describe()}")
    progress = Progress(len(manifests) * len(args.threads), label="bench", interval=0.5)

    def on_step(manifest, threads, milliseconds, note) -> None:
        progress.update(note=f"{manifest.name} x{threads}")

    skipped = measure_profile(manifests, profile, threads=args.threads, seconds=args.seconds, on_step=on_step)
    progress.close()
    path = save_profile(profile)
    if args.json:
        print(json.dumps({**profile.to_json(), "path": str(path), "skipped": skipped}, indent=2))
        return 0
    print(f"{'variant':<44} {'threads':>7} {'here ms':>9} {'shipped ms':>11} {'here/shipped':>12}")
    for manifest in manifests:
        for threads in args.threads:
            here = profile.latency(manifest, threads)
            if here is None:
                continue
            shipped = _shipped(manifest, threads)
            ratio = f"{here / shipped:.2f}" if shipped else "-"
            shipped_text = f"{shipped:.2f}" if shipped else "-"
            print(f"{manifest.name:<44} {threads:>7} {here:>9.2f} {shipped_text:>11} {ratio:>12}")
    for name, why in skipped.items():
        print(f"skipped {name}: {why}")
    print(f"wrote {path}; `auto` now picks by these figures on this machine")
    return 0
