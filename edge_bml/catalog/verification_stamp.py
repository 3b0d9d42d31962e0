"""A cached record that a catalog's files were hashed and matched, so the next open can skip hashing.

Hashing every shard at each open costs seconds on a large catalog. After a full check, the stamp
keeps each file's size, inode, mtime and ctime (ctime cannot be set back by a user, so an edit in
place always changes it) under the user's cache folder, keyed by the catalog's path and the bytes
of its ``catalog.json``. The catalog folder itself stays read-only. A stamp that does not match in
every field is ignored, and the files are hashed again.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from edge_bml.latency_profile import cache_dir
from edge_bml.manifest import write_json_atomic


def _stamp_path(directory: Path) -> Path:
    manifest_bytes = (directory / "catalog.json").read_bytes()
    key = hashlib.sha256(str(directory.resolve()).encode() + b"\0" + manifest_bytes).hexdigest()[:24]
    return cache_dir() / "verified_catalogs" / f"{key}.json"


def _file_states(directory: Path, names) -> dict[str, list[int]]:
    states = {}
    for name in sorted(names):
        status = os.stat(directory / name)
        states[name] = [status.st_size, status.st_ino, status.st_mtime_ns, status.st_ctime_ns]
    return states


def stamp_matches(directory: Path, names) -> bool:
    """True when a stamp records exactly these files in exactly their present state."""
    try:
        recorded = json.loads(_stamp_path(directory).read_text())
        return recorded == _file_states(directory, names)
    except (OSError, ValueError):
        return False


def write_stamp(directory: Path, names) -> None:
    """Record the files' present state after they were hashed and matched (best effort: a read-only
    cache folder only costs hashing at the next open)."""
    try:
        write_json_atomic(_stamp_path(directory), _file_states(directory, names))
    except OSError:
        pass
