"""A fixed pool of ``LookPipeline`` workers with a bounded, fair waiting line.

Each worker thread owns one pipeline (runtimes are not shared across threads). At most ``workers +
queue_size`` requests are admitted; one client may hold at most ``per_client`` of those places. Waiting
requests are served round-robin across clients, not first come first served, and a request that finds
the line full takes the place of the newest waiting request of the client holding the most places (when
that client holds at least two more than the newcomer): however many clients flood the server, a client
that sends one request at a time is served within a few looks.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from edge_bml.errors import EdgeBmlError, JobTimeoutError
from edge_bml.pipeline import LookPipeline

T = TypeVar("T")


class PoolFullError(EdgeBmlError):
    """Every worker is busy and the waiting line is full; retry shortly."""


@dataclass
class _Request:
    job: Callable[[LookPipeline], Any]
    client: str
    future: asyncio.Future
    loop: asyncio.AbstractEventLoop


def _settle(future: asyncio.Future, result: Any, error: BaseException | None) -> None:
    if future.done():
        return
    if error is None:
        future.set_result(result)
    else:
        future.set_exception(error)


def _hand_over(request: _Request, result: Any, error: BaseException | None) -> None:
    """Settle ``request``'s future on its event loop (nothing to do once that loop is closed)."""
    try:
        request.loop.call_soon_threadsafe(_settle, request.future, result, error)
    except RuntimeError:
        pass


class PipelinePool:
    """``workers`` pipelines made by ``factory``; at most ``workers + queue_size`` requests admitted, and at
    most ``per_client`` of them (default: half the places, rounded up) from one client."""

    catalog_identity = None  # catalog.json's identity when the pipelines opened it (``open_pool`` sets it)

    def __init__(
        self,
        factory: Callable[[], LookPipeline],
        *,
        workers: int = 1,
        queue_size: int = 4,
        per_client: int | None = None,
    ) -> None:
        if workers < 1 or queue_size < 0 or (per_client is not None and per_client < 1):
            raise ValueError("workers and per_client must be >= 1 and queue_size >= 0")
        self._all: list[LookPipeline] = []
        self._threads: list[threading.Thread] = []
        self._waiting: dict[str, deque[_Request]] = {}  # insertion order is the round-robin order
        self._held: dict[str, int] = {}  # places (running or waiting) by client
        self._admitted = 0
        self._closed = False
        self._catalog = None  # a catalog handed over by replace_catalog, applied by each worker before its next job
        self._catalog_version = 0
        self._cond = threading.Condition()
        try:
            for _ in range(workers):
                self._all.append(factory())
        except BaseException:
            self.close()
            raise
        self._capacity = workers + queue_size
        self._per_client = per_client if per_client is not None else -(-self._capacity // 2)
        self.workers = workers
        for number, pipeline in enumerate(self._all):
            thread = threading.Thread(target=self._work, args=(pipeline,), name=f"edge-bml-look-{number}", daemon=True)
            thread.start()
            self._threads.append(thread)

    @property
    def any(self) -> LookPipeline:
        """One pipeline, for read-only facts (models)."""
        return self._all[0]

    @property
    def catalog(self):
        """The catalog the workers search (the newest handed over, else the one they opened), or None."""
        with self._cond:
            return self._catalog if self._catalog_version else self._all[0].catalog

    def replace_catalog(self, catalog) -> None:
        """Make every worker search ``catalog`` (an open ``Catalog``, shared) from its next job on; a job
        running now finishes with the catalog it started with."""
        with self._cond:
            self._catalog = catalog
            self._catalog_version += 1

    async def submit(self, job: Callable[[LookPipeline], T], *, client: str = "", timeout_s: float | None = None) -> T:
        """Run ``job(pipeline)`` on a worker, counted against ``client`` (e.g. its address).

        The answer is waited for at most ``timeout_s`` seconds. A request still waiting then gives its
        place back at once; a running one keeps it (and its client's share) until its worker is done:
        ``job`` should stop itself by then, as a look does with a ``StageTimer`` deadline.

        Raises:
            PoolFullError: too many requests are admitted, or from this client, or this request's place
                was given to a client with fewer requests in flight.
            JobTimeoutError: no answer within ``timeout_s``.
        """
        loop = asyncio.get_running_loop()
        request = _Request(job, client, loop.create_future(), loop)
        with self._cond:
            self._admit(request)
        try:
            return await asyncio.wait_for(asyncio.shield(request.future), timeout_s)
        except TimeoutError:
            with self._cond:
                queue = self._waiting.get(client)
                if queue is not None and request in queue:
                    self._drop(request)
            request.future.add_done_callback(lambda f: f.cancelled() or f.exception())
            raise JobTimeoutError(f"no answer within {timeout_s:g} s") from None

    def _admit(self, request: _Request) -> None:
        """Queue ``request`` (under the lock), making room by the rules in the module's docstring."""
        mine = self._held.get(request.client, 0)
        if mine >= self._per_client:
            raise PoolFullError(f"this client already has {mine} looks running or waiting (the most per client)")
        if self._admitted >= self._capacity:
            victim = max(
                (c for c, queue in self._waiting.items() if queue and self._held[c] >= mine + 2),
                key=lambda c: self._held[c],
                default=None,
            )
            if victim is None:
                raise PoolFullError(f"all {self.workers} workers are busy and the line is full")
            evicted = self._waiting[victim][-1]
            self._drop(evicted)
            error = PoolFullError("the line is full and this client holds the most places")
            _hand_over(evicted, None, error)
        self._waiting.setdefault(request.client, deque()).append(request)
        self._held[request.client] = mine + 1
        self._admitted += 1
        self._cond.notify()

    def _drop(self, request: _Request) -> None:
        """Take a waiting request out of the line and give its place back (under the lock)."""
        queue = self._waiting[request.client]
        queue.remove(request)
        if not queue:
            del self._waiting[request.client]
        self._release(request.client)

    def _release(self, client: str) -> None:
        self._admitted -= 1
        left = self._held.pop(client) - 1
        if left:
            self._held[client] = left

    def _next(self) -> _Request:
        """The first waiting request of the client whose turn it is; that client goes to the back."""
        client = next(iter(self._waiting))
        queue = self._waiting.pop(client)
        request = queue.popleft()
        if queue:
            self._waiting[client] = queue
        return request

    def _work(self, pipeline: LookPipeline) -> None:
        applied = 0
        while True:
            with self._cond:
                while not self._waiting and not self._closed:
                    self._cond.wait()
                if not self._waiting:
                    return
                request = self._next()
                if applied != self._catalog_version:
                    pipeline.use_catalog(self._catalog)
                    applied = self._catalog_version
            result, error = None, None
            try:
                result = request.job(pipeline)
            except BaseException as failure:  # handed to the waiting request, never lost with the thread
                error = failure
            with self._cond:
                self._release(request.client)
            _hand_over(request, result, error)

    def close(self) -> None:
        """Finish the requests already admitted, stop the workers and release every pipeline."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        for thread in self._threads:
            thread.join()
        for pipeline in self._all:
            pipeline.close()
        self._all = []
