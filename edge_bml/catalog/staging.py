"""Writing a catalog folder safely: one writer at a time, written aside, swapped in whole.

Every writer (``build`` into an existing folder, ``add``, ``remove``) holds the catalog's lock, a
``.NAME.lock`` file beside the folder (removed when it is done), for its whole run, and reads the
catalog under it. The new
folder is written aside and exchanged with the old one in one atomic ``renameat2(RENAME_EXCHANGE)``
where the file system has it, so a kill at any moment leaves either the old or the new catalog.
A folder that is not a catalog is never replaced unless the caller was told to overwrite it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import fcntl
import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from edge_bml.catalog.catalog_manifest import CATALOG_MANIFEST
from edge_bml.errors import CatalogBusyError, CatalogDiskFullError, CatalogOutputError

# A staging folder this young may still be about to be locked by the build that just made it.
GRACE_SECONDS = 5.0
# How long a writer waits for another writer of the same catalog before giving up.
DEFAULT_WAIT_SECONDS = 600.0

# A write that failed in a runtime's own words while this little is free is taken for a full disk.
LOW_SPACE_BYTES = 64 << 20

_held: dict[tuple[Path, int], int] = {}  # (catalog, thread) holding its lock -> nesting depth
_held_guard = threading.Lock()


def _lock(folder: Path, *, wait: bool) -> int | None:
    """An open descriptor of ``folder`` holding an exclusive lock, or None if another process holds it."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def lock_path(target: Path) -> Path:
    """The lock file of catalog folder ``target``: beside it, so it outlives every swap of the folder."""
    return target.with_name(f".{target.name}.lock")


def _holder(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace").strip() or "another process"
    except OSError:
        return "another process"


@contextmanager
def catalog_writer(target: str | Path, *, wait_s: float = DEFAULT_WAIT_SECONDS) -> Iterator[None]:
    """Hold the writer lock of catalog folder ``target`` (re-entrant within a thread; other threads wait).

    A second writer waits, saying once on stderr who holds the lock, for at most ``wait_s`` seconds.
    A swap that a kill interrupted on a file system without atomic exchange is repaired first.

    Raises:
        CatalogBusyError: another process kept writing ``target`` for longer than ``wait_s``.
        CatalogOutputError: the lock file cannot be made beside ``target`` (its folder cannot be written).
    """
    target = Path(os.path.abspath(target))
    key = (target, threading.get_ident())
    with _held_guard:
        if key in _held:
            _held[key] += 1
            nested = True
        else:
            nested = False
    if nested:
        try:
            yield
        finally:
            with _held_guard:
                _held[key] -= 1
        return
    path = lock_path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd = _acquire(target, path, wait_s)
    except OSError as error:  # a folder that takes no files (/proc), or one the user may not write
        raise CatalogOutputError(
            f"cannot write a catalog at {target}: {error.strerror or error} ({path}); choose another --out"
        ) from None
    try:
        try:  # who holds it, for a waiter's message; a full disk must not stop the writer here
            os.pwrite(fd, f"pid {os.getpid()} ({' '.join(sys.argv[:3])})\n".encode(), 0)
        except OSError:
            pass
        with _held_guard:
            _held[key] = 1
        try:
            _repair_interrupted_swap(target)
            yield
        finally:
            with _held_guard:
                del _held[key]
            path.unlink(missing_ok=True)  # still locked: a waiter finds its file gone and opens a new one
    finally:
        os.close(fd)  # closing releases the flock


def _open_locked(path: Path) -> int | None:
    """A descriptor of ``path`` holding its lock, or None if another holds it. A lock won on a file that its
    holder removed meanwhile is let go (None is not returned then: the caller simply tries again)."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(path))
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)


def _acquire(target: Path, path: Path, wait_s: float) -> int:
    fd = _open_locked(path)
    if fd is not None:
        return fd
    holder = _holder(path)
    print(f"{target}: waiting for {holder}, which is writing this catalog", file=sys.stderr, flush=True)
    deadline = time.monotonic() + wait_s
    while fd is None:
        if time.monotonic() > deadline:
            raise CatalogBusyError(
                f"{target} has been written by {holder} for over {wait_s:g} s; try again when it has finished"
            )
        time.sleep(0.05)
        fd = _open_locked(path)
    return fd


def check_replaceable(target: str | Path, *, overwrite: bool) -> None:
    """Refuse to replace anything but a catalog folder or an empty folder, unless ``overwrite``.

    Raises:
        CatalogOutputError: ``target`` is a file, a symbolic link, or a non-empty folder without
            ``catalog.json``, and ``overwrite`` is off.
    """
    target = Path(target)
    if overwrite or not os.path.lexists(target):
        return
    hint = "choose another --out, or add --overwrite to replace it"
    if target.is_symlink():
        raise CatalogOutputError(f"{target} is a symbolic link, not a catalog folder; {hint}")
    if not target.is_dir():
        raise CatalogOutputError(f"{target} is a file, not a catalog folder; {hint}")
    if (target / CATALOG_MANIFEST).is_file():
        return
    try:
        empty = next(target.iterdir(), None) is None
    except OSError as error:
        raise CatalogOutputError(f"{target}: cannot list it ({error.strerror or error}); {hint}") from error
    if not empty:
        raise CatalogOutputError(f"{target} holds files but no {CATALOG_MANIFEST}, so it is not a catalog; {hint}")


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


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _renameat2():
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    function = getattr(libc, "renameat2", None)
    if function is not None:
        function.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
        function.restype = ctypes.c_int
    return function


_RENAMEAT2 = _renameat2()


def exchange(a: Path, b: Path) -> bool:
    """Swap the paths ``a`` and ``b`` in one atomic step; False where the system cannot (nothing moved).

    Raises:
        OSError: the exchange failed for another reason than lacking support.
    """
    if _RENAMEAT2 is None:
        return False
    result = _RENAMEAT2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if result == 0:
        return True
    error = ctypes.get_errno()
    if error in (22, 38, 95):  # EINVAL, ENOSYS, EOPNOTSUPP: this file system cannot exchange
        return False
    raise OSError(error, os.strerror(error), str(a))


def disk_full(error: BaseException, target: Path) -> CatalogDiskFullError | None:
    """The one-line error to raise where ``error`` (met writing ``target``) means the disk is full, else None.

    ``OSError`` ENOSPC/EDQUOT counts, and so do the runtimes' wrappers of it: an error saying "No space
    left", or "Failed to serialize" (usearch, Ray) while under ``LOW_SPACE_BYTES`` are free beside ``target``.
    """
    text = str(error)
    full = (isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT)) or "No space left" in text
    if not full and "Failed to serialize" in text:
        try:
            full = shutil.disk_usage(target.parent).free < LOW_SPACE_BYTES
        except OSError:
            full = False
    if not full:
        return None
    where = getattr(error, "filename", None) or target
    return CatalogDiskFullError(
        f"disk full while writing {where}; nothing was kept: free some space on {target.parent} and try again"
    )


def _old_path(target: Path) -> Path:
    return target.with_name(f".{target.name}.old")


def _repair_interrupted_swap(target: Path) -> None:
    """Put back ``.NAME.old`` where a kill between the two renames of a non-atomic swap left no catalog."""
    old = _old_path(target)
    if not os.path.lexists(target) and (old / CATALOG_MANIFEST).is_file():
        old.rename(target)
        print(f"{target}: restored the catalog an interrupted write had moved aside", file=sys.stderr)


def _discard(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif os.path.lexists(path):
        path.unlink()


@contextmanager
def staged_directory(target: Path, *, overwrite: bool = False) -> Iterator[Path]:
    """Yield an empty folder beside ``target``; on success it replaces ``target``, on error it is removed.

    The swap happens under the catalog's writer lock, after ``check_replaceable(target, overwrite=...)``.
    Staging folders abandoned by earlier, killed builds of ``target`` are removed first.

    Raises:
        CatalogOutputError: ``target`` is not a catalog or an empty folder (see ``check_replaceable``).
        CatalogBusyError: another writer held the catalog too long.
        CatalogDiskFullError: the disk filled up (the staging folder is removed; ``target`` is as it was).
    """
    target = Path(target)
    with catalog_writer(target):
        check_replaceable(target, overwrite=overwrite)
        remove_stale_staging(target)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent))
        lock = _lock(staging, wait=True)
        os.chmod(staging, 0o755)
        try:
            yield staging
            check_replaceable(target, overwrite=overwrite)
            if not os.path.lexists(target):
                staging.rename(target)
            elif exchange(staging, target):
                _discard(staging)  # the old catalog, now under the staging name
            else:
                old = _old_path(target)
                _discard(old)
                target.rename(old)
                staging.rename(target)
                _discard(old)
        except BaseException as error:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
            full = disk_full(error, target)
            if full is not None:
                raise full from None
            raise
        finally:
            os.close(lock)
