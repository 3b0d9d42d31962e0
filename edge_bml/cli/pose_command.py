"""``edge-bml pose PHOTO...``: keypoints, shot type and facing of each photo, with stage timings."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from edge_bml.cli.arg_types import output_file
from edge_bml.cli.model_choices import choices_json, choices_lines
from edge_bml.cli.photo_reader import PhotoReader
from edge_bml.cli.shared_flags import add_runtime_flags
from edge_bml.drawing import draw_pose, write_png
from edge_bml.stages.pose import PoseEstimator, PoseOptions, PoseResult
from edge_bml.stages.pose_classifier import PoseClass, PoseClassifier


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("pose", help="find the person's keypoints, shot type and facing")
    parser.add_argument(
        "photos", nargs="+", type=Path, metavar="PHOTO", help="photo files, or folders (the photos directly inside)"
    )
    add_runtime_flags(parser)
    parser.add_argument("--json", action="store_true", help="one JSON object per photo, one per line")
    parser.add_argument(
        "--no-mirror-average", action="store_true", help="one landmark pass per person (faster, less symmetric)"
    )
    parser.add_argument(
        "--draw",
        type=output_file,
        metavar="OUT.png",
        help="write the photo with the skeleton (PHOTO name appended when several photos)",
    )
    parser.set_defaults(func=run)


def pose_json(file: str, result: PoseResult, decision: PoseClass, timings: dict[str, float]) -> dict:
    """The ``--json`` object for one photo."""
    person = result.main
    keypoints = None
    person_box = None
    if person is not None:
        keypoints = [
            [round(float(x), 1), round(float(y), 1), round(float(v), 3)]
            for (x, y, _), v in zip(person.keypoints, person.visibility)
        ]
        width, height = result.image_size
        box = person.person_box
        person_box = [round(float(min(max(v, 0), limit)), 1) for v, limit in zip(box, (width, height, width, height))]
    return {
        "file": file,
        "shot": decision.shot,
        "facing": decision.facing,
        "reasons": decision.reasons,
        "keypoints": keypoints,
        "person_box": person_box,
        "timings_ms": {k: round(v, 2) for k, v in timings.items()},
    }


def draw_path(base: Path, photo: Path, many: bool) -> Path:
    """Where ``--draw BASE`` writes the picture of ``photo``: BASE itself, or BASE_<photo> for several photos."""
    return base.with_name(f"{base.stem}_{photo.stem}{base.suffix or '.png'}") if many else base


def run(args: argparse.Namespace) -> int:
    options = PoseOptions(
        backend=args.backend,
        precision=args.precision,
        threads=args.threads,
        mirror_average=not getattr(args, "no_mirror_average", False),
    )
    classifier = PoseClassifier()
    photos = PhotoReader(args.photos, command="edge-bml pose")  # a folder without photos fails before models load
    with PoseEstimator.create_from_options(options) as estimator:
        models = choices_json(estimator.choices)
        if not args.json:
            print("\n".join(choices_lines(estimator.choices)))
            print(f"{'photo':<28} {'shot':<11} {'facing':<7} {'detect':>8} {'landmk':>8} {'total':>8}  why")
        for photo, image, timer in photos:
            result = estimator(image, timer=timer)
            with timer.stage("pose_classify"):
                decision = classifier(result.main, result.image_size)
            timings = timer.as_dict()
            if args.draw and result.main is not None:
                target = draw_path(args.draw, photo, len(photos.paths) > 1)
                write_png(target, draw_pose(image, result.main))
                print(f"wrote {target}", file=sys.stderr if args.json else sys.stdout)
            if args.json:
                print(json.dumps({**pose_json(str(photo), result, decision, timings), "models": models}), flush=True)
            else:
                why = "; ".join(r for r in decision.reasons if "out of frame" in r) or decision.reasons[-1]
                print(
                    f"{photo.name:<28} {decision.shot:<11} {decision.facing or '-':<7} "
                    f"{timings['pose_detect']:>6.1f}ms {timings['pose_landmarks']:>6.1f}ms "
                    f"{timings['total']:>6.1f}ms  {why}"
                )
    return 1 if photos.failures else 0
