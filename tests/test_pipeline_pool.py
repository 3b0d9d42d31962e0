"""PipelinePool's admission: the places, the share of one client, fair turns, release on errors and timeouts."""

from __future__ import annotations

import asyncio
import threading

import pytest

from edge_bml.errors import JobTimeoutError
from edge_bml.server.pipeline_pool import PipelinePool, PoolFullError


class _Worker:
    """Stands in for a pipeline: the pool never looks inside what it hands to jobs."""

    def close(self) -> None:
        self.closed = True


def _run(pool: PipelinePool, scenario) -> None:
    try:
        asyncio.run(scenario())
    finally:
        pool.close()


def test_places_and_per_client_share():
    release = threading.Event()
    pool = PipelinePool(_Worker, workers=1, queue_size=2)  # 3 places, 2 per client

    async def scenario():
        blocked = [asyncio.ensure_future(pool.submit(lambda w: release.wait(10), client="greedy")) for _ in range(2)]
        await asyncio.sleep(0.05)
        with pytest.raises(PoolFullError, match="this client"):
            await pool.submit(lambda w: "too many", client="greedy")
        polite = asyncio.ensure_future(pool.submit(lambda w: "served", client="polite"))
        await asyncio.sleep(0.05)
        with pytest.raises(PoolFullError, match="line is full"):  # greedy holds 2, the newcomer 0: no room made
            await pool.submit(lambda w: "no place", client="polite")
        release.set()
        assert await polite == "served"
        assert await asyncio.gather(*blocked) == [True, True]
        assert await pool.submit(lambda w: "free again", client="greedy") == "free again"

    _run(pool, scenario)


def test_a_newcomer_takes_the_newest_waiting_place_of_the_client_holding_the_most():
    release = threading.Event()
    pool = PipelinePool(_Worker, workers=1, queue_size=2, per_client=3)

    async def scenario():
        greedy = [asyncio.ensure_future(pool.submit(lambda w: release.wait(10), client="greedy")) for _ in range(3)]
        await asyncio.sleep(0.05)
        polite = asyncio.ensure_future(pool.submit(lambda w: "served", client="polite"))
        await asyncio.sleep(0.05)
        assert greedy[2].done()
        with pytest.raises(PoolFullError, match="this client holds the most places"):
            await greedy[2]
        release.set()
        assert await polite == "served"
        assert await asyncio.gather(*greedy[:2]) == [True, True]

    _run(pool, scenario)


def test_waiting_requests_are_served_round_robin_across_clients():
    release = threading.Event()
    order = []
    pool = PipelinePool(_Worker, workers=1, queue_size=6, per_client=4)

    def job(name):
        def run(worker):
            release.wait(10)
            order.append(name)

        return run

    async def scenario():
        first = asyncio.ensure_future(pool.submit(job("a0"), client="a"))
        await asyncio.sleep(0.05)
        queued = [asyncio.ensure_future(pool.submit(job(f"a{n}"), client="a")) for n in (1, 2, 3)]
        await asyncio.sleep(0.05)
        queued += [asyncio.ensure_future(pool.submit(job(f"b{n}"), client="b")) for n in (0, 1)]
        await asyncio.sleep(0.05)
        release.set()
        await asyncio.gather(first, *queued)

    _run(pool, scenario)
    assert order == ["a0", "a1", "b0", "a2", "b1", "a3"]


def test_four_flooding_clients_leave_a_polite_client_every_look():
    pool = PipelinePool(_Worker, workers=1, queue_size=4)
    served = []

    async def flooder(name, stop):
        while not stop.is_set():
            try:
                await pool.submit(lambda w: threading.Event().wait(0.01), client=name)
            except PoolFullError:
                await asyncio.sleep(0)

    async def scenario():
        stop = asyncio.Event()
        floods = [asyncio.ensure_future(flooder(f"f{n}", stop)) for n in range(4) for _ in range(3)]
        await asyncio.sleep(0.1)
        for _ in range(20):
            try:
                served.append(await pool.submit(lambda w: "look", client="polite", timeout_s=5))
            except PoolFullError:
                served.append("refused")
        stop.set()
        await asyncio.gather(*floods)

    _run(pool, scenario)
    assert served == ["look"] * 20


def test_a_failing_job_gives_its_place_back():
    pool = PipelinePool(_Worker, workers=1, queue_size=0, per_client=1)

    def boom(worker):
        raise RuntimeError("the job failed")

    async def scenario():
        for _ in range(3):
            with pytest.raises(RuntimeError):
                await pool.submit(boom, client="a")
        assert await pool.submit(lambda w: isinstance(w, _Worker), client="a") is True

    _run(pool, scenario)


def test_a_job_past_its_timeout_is_answered_at_once_and_keeps_its_place_until_it_stops():
    release = threading.Event()
    pool = PipelinePool(_Worker, workers=1, queue_size=0, per_client=1)

    async def scenario():
        with pytest.raises(JobTimeoutError, match=r"no answer within 0\.05 s"):
            await pool.submit(lambda w: release.wait(10), client="a", timeout_s=0.05)
        with pytest.raises(PoolFullError, match="line is full"):  # the worker is still busy with it
            await pool.submit(lambda w: "no place yet", client="b")
        release.set()
        await asyncio.sleep(0.1)
        assert await pool.submit(lambda w: "free again", client="b", timeout_s=5) == "free again"

    _run(pool, scenario)


def test_a_request_that_times_out_while_waiting_gives_its_place_back_at_once():
    release = threading.Event()
    pool = PipelinePool(_Worker, workers=1, queue_size=1, per_client=2)

    async def scenario():
        running = asyncio.ensure_future(pool.submit(lambda w: release.wait(10), client="a"))
        await asyncio.sleep(0.05)
        with pytest.raises(JobTimeoutError):
            await pool.submit(lambda w: "never run", client="a", timeout_s=0.05)
        waiting = asyncio.ensure_future(pool.submit(lambda w: "queued", client="b"))  # its place is free
        await asyncio.sleep(0.05)
        release.set()
        assert await running is True and await waiting == "queued"

    _run(pool, scenario)
