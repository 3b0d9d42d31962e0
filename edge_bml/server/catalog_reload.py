"""A served catalog that writers replace (``catalog add``/``remove``/``build``) is noticed and loaded.

Writers never change a catalog's files in place: they write a new folder and swap it in whole, so a
swap gives ``catalog.json`` a new file identity (device, inode, modification time). Requests look at
that identity at most every ``interval_s`` seconds; a change opens the new catalog (its files checked
as at start-up) on a background thread while requests go on with the old one, then hands it to the
workers. A catalog that cannot be opened, or that another embedder built, leaves the old one serving,
with one log line.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from edge_bml.catalog.catalog_manifest import CATALOG_MANIFEST
from edge_bml.catalog.search import Catalog
from edge_bml.errors import EdgeBmlError

log = logging.getLogger("edge_bml.server")

Identity = tuple[int, int, int]

# How often, at most, a request looks whether the catalog was swapped.
CHECK_INTERVAL_S = 2.0


def catalog_identity(directory: str | Path) -> Identity | None:
    """(st_dev, st_ino, st_mtime_ns) of ``directory/catalog.json``, or None while there is none."""
    try:
        info = os.stat(Path(directory) / CATALOG_MANIFEST)
    except OSError:
        return None
    return info.st_dev, info.st_ino, info.st_mtime_ns


class CatalogWatcher:
    """Reloads ``directory`` into ``on_new(catalog)`` when its ``catalog.json`` changes identity.

    ``check(catalog)`` may refuse a new catalog (e.g. another embedder's) by raising an ``EdgeBmlError``.
    """

    def __init__(
        self,
        directory: str | Path,
        *,
        identity: Identity | None,
        on_new: Callable[[Catalog], None],
        check: Callable[[Catalog], None] = lambda catalog: None,
        trust: bool = False,
        interval_s: float = CHECK_INTERVAL_S,
    ) -> None:
        self.directory = Path(directory)
        self.identity = identity
        self._on_new, self._check, self._trust, self._interval = on_new, check, trust, interval_s
        self._refused: Identity | None = None
        self._next = time.monotonic() + interval_s
        self._busy = False
        self._guard = threading.Lock()
        self.reloads = 0

    def poll(self) -> None:
        """Look at the catalog's identity (at most every ``interval_s``); start a reload where it changed."""
        now = time.monotonic()
        with self._guard:
            if now < self._next or self._busy:
                return
            self._next = now + self._interval
            seen = catalog_identity(self.directory)
            if seen is None or seen in (self.identity, self._refused):
                return
            self._busy = True
        threading.Thread(target=self._reload, args=(seen,), name="edge-bml-catalog-reload", daemon=True).start()

    def _reload(self, seen: Identity) -> None:
        try:
            catalog = Catalog(self.directory, trust=self._trust)
            self._check(catalog)
        except (EdgeBmlError, OSError) as error:
            log.warning(
                "catalog %s changed but the new one cannot be served (%s); still serving the one loaded before",
                self.directory,
                error,
            )
            with self._guard:
                self._refused, self._busy = seen, False
            return
        except BaseException:
            with self._guard:
                self._busy = False
            raise
        self._on_new(catalog)
        with self._guard:
            self.identity, self._busy = seen, False  # changed again since? the next poll reloads again
            self.reloads += 1
        log.info("catalog %s reloaded: %d products", self.directory, catalog.manifest.total)
