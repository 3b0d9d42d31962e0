"""``edge-bml look PHOTO... --catalog DIR``: every article of each photo with its best catalog matches."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from edge_bml.backends import BACKEND_NAMES
from edge_bml.cli.arg_types import non_negative_float, output_file, top_k
from edge_bml.cli.model_choices import choices_json, choices_lines
from edge_bml.cli.photo_reader import PhotoReader
from edge_bml.cli.shared_flags import add_runtime_flags, add_trust_flag, add_where_flag
from edge_bml.cli.terminal_text import printable
from edge_bml.look import Look
from edge_bml.pipeline import STAGES, LookOptions, LookPipeline
from edge_bml.runtime_choice import MAX_THREADS, RuntimeChoice


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("look", help="find each article of the look and its best catalog matches")
    parser.add_argument(
        "photos", nargs="+", type=Path, metavar="PHOTO", help="photo files, or folders (the photos directly inside)"
    )
    add_look_options(parser)
    parser.add_argument("--json", action="store_true", help="one JSON object per photo, one per line")
    parser.add_argument("--draw", type=output_file, metavar="OUT.png", help="the photo with article boxes and labels")
    parser.add_argument("--html", type=output_file, metavar="OUT.html", help="a self-contained page of the looks")
    parser.set_defaults(func=run)


def add_look_options(parser: argparse.ArgumentParser) -> None:
    """The options every command that runs the whole look shares."""
    parser.add_argument("--catalog", type=Path, help="a built catalog folder (without it: no matches)")
    add_trust_flag(parser)
    parser.add_argument("--top-k", type=top_k, default=5, help="matches per article (default 5)")
    add_where_flag(parser)
    add_runtime_flags(parser)
    parser.add_argument("--any-shot", action="store_true", help="also look at photos that are not full shots")
    parser.add_argument(
        "--colour-weight",
        type=non_negative_float,
        default=None,
        help="how much the worn colour counts in the matches (default: the catalog's; 0: appearance only)",
    )
    parser.add_argument(
        "--parser",
        action="store_true",
        help="also run the garment parser: each article's colour from its own pixels (slower; default: box centre)",
    )
    parser.add_argument(
        "--all-detections",
        action="store_true",
        help="also list articles under their category's shown threshold, or demoted as contradicting a "
        "better one (marked 'not shown'); default: only what a shopper sees",
    )
    parser.add_argument(
        "--stage",
        action="append",
        default=[],
        type=lambda text: parse_stage(text),
        metavar="NAME=BACKEND[:PRECISION[:THREADS]]",
        help="override one stage (pose, detector; embedder: threads only), e.g. --stage pose=litert:fp32:1; repeatable",
    )


def parse_stage(text: str) -> tuple[str, RuntimeChoice]:
    """``pose=litert:fp32:2`` -> ("pose", RuntimeChoice("litert", "fp32", 2)); empty parts keep the global choice.

    Raises:
        argparse.ArgumentTypeError: an unknown stage, backend or precision, or bad threads.
    """
    name, _, spec = text.partition("=")
    if name not in ("pose", "detector", "embedder") or not spec:
        raise argparse.ArgumentTypeError(
            f"--stage {text!r}: expected pose|detector|embedder=BACKEND[:PRECISION[:THREADS]]"
        )
    parts = (spec.split(":") + ["", "", ""])[:3]
    backend, precision, threads = (p or None for p in parts)
    if backend not in (None, "auto") + BACKEND_NAMES or precision not in (None, "auto", "fp32", "int8"):
        raise argparse.ArgumentTypeError(f"--stage {text!r}: unknown backend or precision")
    if name == "embedder" and (backend not in (None, "auto") or precision not in (None, "auto")):
        raise argparse.ArgumentTypeError(
            f"--stage {text!r}: the embedder is always the one that built the catalog (its vectors must be "
            "comparable); only its threads can be set, e.g. --stage embedder=::1"
        )
    if threads is not None and (not threads.isdigit() or not 1 <= int(threads) <= MAX_THREADS):
        raise argparse.ArgumentTypeError(f"--stage {text!r}: threads must be a whole number from 1 to {MAX_THREADS}")
    return name, RuntimeChoice(backend, precision, int(threads) if threads else None)


def options_from_args(args: argparse.Namespace) -> LookOptions:
    from edge_bml.catalog.attributes import parse_where

    gate = ("full_shot", "upper_body", "lower_body") if args.any_shot else ("full_shot",)
    return LookOptions(
        catalog=args.catalog,
        trust=getattr(args, "trust", False),
        top_k=args.top_k,
        backend=args.backend,
        precision=args.precision,
        threads=args.threads,
        gate=gate,
        stages=dict(getattr(args, "stage", [])),
        colour_weight=getattr(args, "colour_weight", None),
        parser=getattr(args, "parser", False),
        all_detections=getattr(args, "all_detections", False),
        where=parse_where(getattr(args, "where", [])),
    )


def print_table(look: Look) -> None:
    """The human-readable answer for one photo: each article's top three matches as id, title and score."""
    name = Path(look.file or "photo").name
    print(f"{name}: {look.shot}, facing {look.facing or '-'}")
    if look.stopped:
        print(f"  stopped: {look.stopped}")
    for article in look.articles:
        box = ",".join(f"{v:.0f}" for v in article.box)
        best = ", ".join(
            f"{printable(m.id, width=20)} {printable(m.title or '', width=40)} ({m.score:.2f})".replace("  ", " ")
            for m in list(article.matches)[:3]
        )
        hidden = "" if article.shown else "  (not shown)"
        print(f"  {article.category:<10} {article.score:>5.2f}  [{box:<19}]  {best or article.note or '-'}{hidden}")
    timings = "  ".join(f"{stage} {look.timings_ms.get(stage, 0):.1f}" for stage in STAGES)
    print(f"  ms: {timings}")


def run(args: argparse.Namespace) -> int:
    if args.catalog is None:
        print(
            "edge-bml look: no catalog given (--catalog DIR), so articles come back without matches; "
            "build one with `edge-bml catalog build --images DIR --items ITEMS.csv --out catalog_shards/NAME` "
            "or run `edge-bml demo`, which builds catalog_shards/clothing",
            file=sys.stderr,
        )
    return run_looks(args.photos, options_from_args(args), as_json=args.json, draw=args.draw, html=args.html)


def run_looks(
    photos: list[Path],
    options: LookOptions,
    *,
    as_json: bool = False,
    draw: Path | None = None,
    html: Path | None = None,
    command: str = "edge-bml look",
) -> int:
    """Look at ``photos`` (files or folders) and print each look; ``look`` and ``demo`` both end here.

    Returns 1 when a photo could not be read (the others still run), else 0.

    Raises:
        NoPhotosError: a folder holds no photo; the pipeline's loading errors.
    """
    from edge_bml.cli.pose_command import draw_path
    from edge_bml.drawing import draw_look, write_png
    from edge_bml.look_html import look_section, write_look_html

    sections = []
    reader = PhotoReader(photos, command=command)  # a folder without photos fails before models load
    with LookPipeline(options) as pipeline:
        models = choices_json(pipeline.choices)
        if not as_json:
            print("\n".join(choices_lines(pipeline.choices)))
        categories = pipeline.detector.labels
        for photo, image, timer in reader:
            look = pipeline(image, file=str(photo), timer=timer)
            if as_json:
                print(json.dumps({**look.to_json(), "models": models}), flush=True)
            else:
                print_table(look)
            if draw:
                target = draw_path(draw, photo, len(reader.paths) > 1)
                write_png(target, draw_look(image, look, categories=categories))
                print(f"wrote {target}", file=sys.stderr if as_json else sys.stdout)
            if html:
                sections.append(look_section(look, image, catalog=pipeline.catalog, categories=categories))
    if html:
        write_look_html(html, sections)
        if not as_json:
            print(f"wrote {html}")
    return 1 if reader.failures else 0
