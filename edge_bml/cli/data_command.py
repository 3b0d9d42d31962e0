"""``edge-bml data fetch``: the CCP photos and the clothing catalog, prepared like shared/data."""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from edge_bml.catalog.progress import progress_callback


def add_parser(commands: argparse._SubParsersAction) -> None:
    data = commands.add_parser("data", help="get the data sets edge_bml trains and evaluates on")
    actions = data.add_subparsers(dest="action", required=True)
    fetch = actions.add_parser("fetch", help="download (or take a local copy of) CCP and the clothing dataset")
    fetch.add_argument("--out", type=Path, default=Path("data"), help="where ccp/ and clothing/ go (default data/)")
    fetch.add_argument("--from", dest="local", type=Path, help="a folder with local copies of the two repositories")
    fetch.add_argument("--mirror", help="a URL prefix standing in for https://github.com")
    fetch.add_argument("--only", choices=("ccp", "clothing"), help="prepare one of the two")
    fetch.set_defaults(func=run)


def _progress(label: str):
    return progress_callback(f"  {label}")


def run(args: argparse.Namespace) -> int:
    from edge_bml.data_fetch.archive_source import replace_folder, source_folder
    from edge_bml.data_fetch.ccp_prepare import prepare_ccp
    from edge_bml.data_fetch.clothing_prepare import prepare_clothing
    from edge_bml.data_fetch.sources import CCP_COMMIT, CCP_REPO, CLOTHING_COMMIT, CLOTHING_REPO

    jobs = [("ccp", CCP_REPO, CCP_COMMIT, prepare_ccp), ("clothing", CLOTHING_REPO, CLOTHING_COMMIT, prepare_clothing)]
    args.out.mkdir(parents=True, exist_ok=True)
    for name, repo, commit, prepare in jobs:
        if args.only and args.only != name:
            continue
        work = Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=".partial", dir=args.out))
        try:
            source = source_folder(repo, commit, work, local=args.local, mirror=args.mirror)
            staging = work / name
            counts = prepare(source, staging, progress=_progress(name))
            replace_folder(staging, args.out / name)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        print(f"{args.out / name}: {counts}")
    print(f"done; point edge_bml at it with: export EDGE_BML_DATA={args.out.resolve()}")
    return 0
