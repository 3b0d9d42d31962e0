"""PipelinePool's admission: the places, the waiting line, the share of one client, and release on errors."""

from __future__ import annotations

import asyncio
import threading

import pytest

from edge_bml.server.pipeline_pool import PipelinePool, PoolFullError


class _Worker:
    """Stands in for a pipeline: the pool never looks inside what it hands to jobs."""

    def close(self) -> None:
        self.closed = True


def test_places_line_and_per_client_share():
    release = threading.Event()
    pool = PipelinePool(_Worker, workers=1, queue_size=2)  # 3 places, 2 per client

    async def scenario():
        blocked = [asyncio.ensure_future(pool.submit(lambda w: release.wait(10), client="greedy")) for _ in range(2)]
        await asyncio.sleep(0.05)
        with pytest.raises(PoolFullError, match="this client"):
            await pool.submit(lambda w: "too many", client="greedy")
        polite = asyncio.ensure_future(pool.submit(lambda w: "served", client="polite"))
        await asyncio.sleep(0.05)
        with pytest.raises(PoolFullError, match="line is full"):
            await pool.submit(lambda w: "no place", client="third")
        release.set()
        assert await polite == "served"
        assert await asyncio.gather(*blocked) == [True, True]
        assert await pool.submit(lambda w: "free again", client="greedy") == "free again"

    try:
        asyncio.run(scenario())
    finally:
        pool.close()


def test_a_failing_job_gives_its_place_back():
    pool = PipelinePool(_Worker, workers=1, queue_size=0, per_client=1)

    def boom(worker):
        raise RuntimeError("the job failed")

    async def scenario():
        for _ in range(3):
            with pytest.raises(RuntimeError):
                await pool.submit(boom, client="a")
        assert await pool.submit(lambda w: isinstance(w, _Worker), client="a") is True

    try:
        asyncio.run(scenario())
    finally:
        pool.close()


def test_bad_sizes_are_refused():
    with pytest.raises(ValueError):
        PipelinePool(_Worker, workers=0)
    with pytest.raises(ValueError):
        PipelinePool(_Worker, per_client=0)
