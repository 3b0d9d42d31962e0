"""Where the shared data sets are: ``$EDGE_BML_DATA``, else ``../shared/data`` beside the checkout."""

from __future__ import annotations

import os
from pathlib import Path

from edge_bml.errors import EdgeBmlError


def data_dir(required: bool = True) -> Path | None:
    """The data folder (holding ``ccp/`` and ``clothing/``).

    Raises:
        EdgeBmlError: ``required`` and no folder found.
    """
    candidates = []
    if os.environ.get("EDGE_BML_DATA"):
        candidates.append(Path(os.environ["EDGE_BML_DATA"]))
    here = Path(__file__).resolve().parent.parent
    candidates += [here.parent / "shared" / "data", Path.cwd().parent / "shared" / "data"]
    for candidate in candidates:
        if (candidate / "ccp").is_dir():
            return candidate
    if required:
        raise EdgeBmlError(
            "no data folder: set EDGE_BML_DATA to a folder holding ccp/ and clothing/ "
            f"(looked in {', '.join(str(c) for c in candidates)})"
        )
    return None


def catalogs_dir() -> Path:
    """Where built catalogs live: ``$EDGE_BML_CATALOGS``, else ``catalog_shards/`` beside edge_bml."""
    if os.environ.get("EDGE_BML_CATALOGS"):
        return Path(os.environ["EDGE_BML_CATALOGS"])
    return Path(__file__).resolve().parent.parent / "catalog_shards"
