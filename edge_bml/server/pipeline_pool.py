"""A fixed pool of ``LookPipeline`` workers with a bounded waiting line.

Each worker thread owns one pipeline (runtimes are not shared across threads). A request that
finds every worker busy and the line full is refused at once (HTTP 503) rather than queued forever.
One client may hold at most ``per_client`` of the admitted places, so a client that ignores
``Retry-After`` and keeps many requests in flight cannot starve the clients that wait as told.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from edge_bml.errors import EdgeBmlError
from edge_bml.pipeline import LookPipeline

T = TypeVar("T")


class PoolFullError(EdgeBmlError):
    """Every worker is busy and the waiting line is full; retry shortly."""


class PipelinePool:
    """``workers`` pipelines made by ``factory``; at most ``workers + queue_size`` requests admitted, and at
    most ``per_client`` of them (default: half the places, rounded up) from one client."""

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
        self._pipelines: queue.Queue[LookPipeline] = queue.Queue()
        self._all: list[LookPipeline] = []
        try:
            for _ in range(workers):
                pipeline = factory()
                self._all.append(pipeline)
                self._pipelines.put(pipeline)
        except BaseException:
            self.close()
            raise
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="edge-bml-look")
        self._capacity = workers + queue_size
        self._per_client = per_client if per_client is not None else -(-self._capacity // 2)
        self._by_client: dict[str, int] = {}
        self._admitted = 0
        self._lock = threading.Lock()
        self.workers = workers

    @property
    def any(self) -> LookPipeline:
        """One pipeline, for read-only facts (models, catalog)."""
        return self._all[0]

    def _run(self, job: Callable[[LookPipeline], T]) -> T:
        pipeline = self._pipelines.get()
        try:
            return job(pipeline)
        finally:
            self._pipelines.put(pipeline)

    async def submit(self, job: Callable[[LookPipeline], T], *, client: str = "") -> T:
        """Run ``job(pipeline)`` on a worker, counted against ``client`` (e.g. its address).

        Raises:
            PoolFullError: too many requests are already admitted, or from this client.
        """
        with self._lock:
            if self._admitted >= self._capacity:
                raise PoolFullError(f"all {self.workers} workers are busy and the line is full")
            mine = self._by_client.get(client, 0)
            if mine >= self._per_client:
                raise PoolFullError(f"this client already has {mine} looks running or waiting (the most per client)")
            self._admitted += 1
            self._by_client[client] = mine + 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, self._run, job)
        finally:
            with self._lock:
                self._admitted -= 1
                left = self._by_client.pop(client) - 1
                if left:
                    self._by_client[client] = left

    def close(self) -> None:
        executor = getattr(self, "_executor", None)
        if executor is not None:
            executor.shutdown(wait=True)
        for pipeline in self._all:
            pipeline.close()
        self._all = []
