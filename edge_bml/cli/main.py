"""``edge-bml``: the runtime's command line."""

from __future__ import annotations

import argparse
import os
import sys

from edge_bml import __version__
from edge_bml.cli import (
    bench_command,
    catalog_command,
    data_command,
    demo_command,
    evaluate_command,
    evaluate_look_command,
    evaluate_pose_command,
    evaluate_retrieval_command,
    look_command,
    pose_command,
    search_command,
    serve_command,
)
from edge_bml.errors import EdgeBmlError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="edge-bml", description="On-device Buy Me That Look.")
    parser.add_argument("--version", action="version", version=f"edge-bml {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    pose_command.add_parser(commands)
    demo_command.add_parser(commands)
    evaluate_command.add_parser(commands)
    evaluate_retrieval_command.add_parser(commands)
    catalog_command.add_parser(commands)
    search_command.add_parser(commands)
    evaluate_pose_command.add_parser(commands)
    evaluate_look_command.add_parser(commands)
    evaluate_look_command.add_naive_parser(commands)
    look_command.add_parser(commands)
    serve_command.add_parser(commands)
    data_command.add_parser(commands)
    bench_command.add_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "no_measure", False):
        from edge_bml.latency_bench import MEASURE_ENV

        os.environ[MEASURE_ENV] = "0"  # read by auto's first-use timing (edge_bml.latency_bench)
    try:
        return args.func(args)
    except EdgeBmlError as error:
        print(f"edge-bml: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
