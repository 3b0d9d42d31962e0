"""``edge-bml demo``: the main job end to end on sample CCP photos, with the default models."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from edge_bml.cli import pose_command
from edge_bml.data_paths import data_dir


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("demo", help="run edge_bml on sample full-shot photos from $EDGE_BML_DATA")
    parser.add_argument("--count", type=int, default=8, help="how many CCP val photos (default 8)")
    parser.add_argument("--out", type=Path, default=Path("out"), help="folder for drawn results (default out/)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    root = data_dir() / "ccp"
    annotations = json.loads((root / "annotations.json").read_text())
    photos = [root / image["file"] for image in annotations["images"] if image["split"] == "val"][: args.count]
    args.out.mkdir(parents=True, exist_ok=True)
    pose_args = argparse.Namespace(
        photos=photos, backend="auto", precision="auto", threads=None, json=False, draw=args.out / "pose.png"
    )
    code = pose_command.run(pose_args)
    print(f"drawn skeletons: {args.out}/pose_*.png")
    return code
