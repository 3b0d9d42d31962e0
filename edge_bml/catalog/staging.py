"""Write a catalog folder aside and swap it in: an interrupted build leaves the old catalog whole."""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# A staging folder this young may still be about to be locked by the build that just made it.
GRACE_SECONDS = 5.0


def _lock(folder: Path, *, wait: bool) -> int | None:
    """An open descriptor of ``folder`` holding an exclusive lock, or None if another process holds it."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def remove_stale_staging(target: Path) -> list[Path]:
    """Remove ``.NAME.*.partial`` folders of ``target`` left by killed builds; returns those removed.

    A staging folder in use is locked (``flock``) by the build writing it, and the lock dies with
    that process, so only abandoned folders are removed.
    """
    removed = []
    for folder in target.parent.glob(f".{target.name}.*.partial"):
        try:
            if time.time() - folder.stat().st_mtime < GRACE_SECONDS:
                continue
            fd = _lock(folder, wait=False)
        except OSError:
            continue
        if fd is None:
            continue
        try:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
        finally:
            os.close(fd)
    return removed


@contextmanager
def staged_directory(target: Path) -> Iterator[Path]:
    """Yield an empty folder beside ``target``; on success it replaces ``target``, on error it is removed.

    Staging folders abandoned by earlier, killed builds of ``target`` are removed first.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_staging(target)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent))
    lock = _lock(staging, wait=True)
    os.chmod(staging, 0o755)
    try:
        yield staging
        old = target.with_name(f".{target.name}.old")
        if target.exists():
            shutil.rmtree(old, ignore_errors=True)
            target.rename(old)
        staging.rename(target)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        os.close(lock)
