"""uvicorn as ``serve`` runs it: a deadline for request heads, a cap on connections, quiet floods of errors.

uvicorn alone waits forever for a request head that trickles in (50 such connections held a server for
a minute), accepts connections until the process runs out of descriptors, logs every failed accept (a
264,176-line flood in 30 s), and trusts ``X-Forwarded-For`` from 127.0.0.1, which lets any local
client pose as many to get around the per-client share. Here a head must arrive within
``header_timeout_s``, connections past ``max_connections`` are closed at once, repeated log messages
are summarised, and forwarded headers count only from ``trusted_proxies``.
"""

from __future__ import annotations

import logging
import threading
import time

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger("edge_bml.server")


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline for each request head and a cap on open connections."""

    header_timeout_s: float = 10.0
    max_connections: int = 256

    def connection_made(self, transport) -> None:  # type: ignore[override]
        self._head_timer = None
        super().connection_made(transport)
        if len(self.connections) > self.max_connections:
            log.warning("over %d open connections: closing a new one", self.max_connections)
            transport.close()
            return
        self._await_head()

    def _await_head(self) -> None:
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(self.header_timeout_s, self._head_expired)

    def _head_expired(self) -> None:
        self._head_timer = None
        if self.cycle is None or self.cycle.response_complete:
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        before = self.cycle
        if before is None or before.response_complete:
            self._await_head()
        super().data_received(data)
        if self.cycle is not before and self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def connection_lost(self, exc: Exception | None) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        super().connection_lost(exc)


class RepeatSummary(logging.Filter):
    """Lets a log message through once per ``every_s`` seconds; the next one that passes says how many
    like it were held back."""

    def __init__(self, every_s: float = 10.0) -> None:
        super().__init__()
        self.every_s = every_s
        self._last: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        key = f"{record.name}:{record.msg}"
        now = time.monotonic()
        with self._lock:
            last, held = self._last.get(key, (-float("inf"), 0))
            if now - last < self.every_s:
                self._last[key] = (last, held + 1)
                return False
            self._last[key] = (now, 0)
        if held:
            record.msg = f"{record.msg} ({held} more like it in the last {self.every_s:g} s)"
            record.exc_info = None
        return True


_SUMMARY = RepeatSummary()


def quiet_repeats(*names: str) -> None:
    """Summarise repeated messages of the named loggers (asyncio's failed accepts, uvicorn's errors)."""
    for name in names or ("asyncio", "uvicorn.error", "edge_bml.server"):
        logger = logging.getLogger(name)
        if _SUMMARY not in logger.filters:
            logger.addFilter(_SUMMARY)


def server_config(app, *, host: str, port: int, options, log_level: str = "info") -> uvicorn.Config:
    """The uvicorn configuration of ``serve`` for ``app`` with ``options`` (a ``ServerOptions``)."""
    protocol = type(
        "ServeH11Protocol",
        (GuardedH11Protocol,),
        {"header_timeout_s": options.header_timeout_s, "max_connections": options.max_connections},
    )
    trusted = list(options.trusted_proxies)
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=protocol,
        log_level=log_level,
        proxy_headers=bool(trusted),
        forwarded_allow_ips=trusted or [],
        timeout_graceful_shutdown=5,
    )
