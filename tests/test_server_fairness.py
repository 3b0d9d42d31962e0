"""A polite client is served while others flood the server and hold connections open (#26 items 8 and 9).

Runs on loopback only: the four flooders bind 127.0.0.2-5 as their source addresses.
"""

from __future__ import annotations

import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import cv2
import pytest

httpx = pytest.importorskip("httpx")
pytest.importorskip("uvicorn")

from edge_bml.pipeline import LookOptions  # noqa: E402
from edge_bml.server.app import ServerOptions, create_app  # noqa: E402
from tests.look_fixtures import build_small_catalog  # noqa: E402
from tests.loopback_server import LoopbackServer  # noqa: E402


@pytest.fixture(scope="module")
def catalog(data_dir, tmp_path_factory):
    return build_small_catalog(data_dir, tmp_path_factory.mktemp("catalog") / "small", per_category=4)


@pytest.fixture(scope="module")
def photo(ccp_val) -> bytes:
    return ccp_val[0]["path"].read_bytes()


def _slow_header(port: int, stop: threading.Event, held: list) -> None:
    """A connection that sends its request head one byte a second, reconnecting when it is closed."""
    head = b"POST /v1/look HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/jpeg\r\nX-Slow: " + b"a" * 200
    while not stop.is_set():
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            held.append(1)
            try:
                for byte in head:
                    if stop.wait(1.0):
                        return
                    sock.sendall(bytes([byte]))
            except OSError:
                continue


@pytest.mark.slow
def test_fifty_slow_heads_and_four_flooders_leave_a_polite_client_its_looks(catalog, photo):
    options = ServerOptions(workers=1, queue_size=4, header_timeout_s=3.0)
    app = create_app(LookOptions(catalog=catalog, threads=1), options)
    stop = threading.Event()
    held: list = []
    with LoopbackServer(app, options) as server:

        def flood(address: str) -> None:
            with httpx.Client(transport=httpx.HTTPTransport(local_address=address), timeout=60) as client:
                while not stop.is_set():
                    client.post(f"{server.url}/v1/look", content=photo)

        with ThreadPoolExecutor(50 + 12) as threads:
            for _ in range(50):
                threads.submit(_slow_header, server.port, stop, held)
            for n in range(4):
                for _ in range(3):
                    threads.submit(flood, f"127.0.0.{n + 2}")
            time.sleep(2.0)
            answered = []
            try:
                with httpx.Client(timeout=10) as polite:
                    for _ in range(10):
                        began = time.monotonic()
                        status = 0
                        while time.monotonic() - began < 5.0:
                            status = polite.post(f"{server.url}/v1/look", content=photo).status_code
                            if status != 503:
                                break
                            time.sleep(1.0)  # Retry-After
                        answered.append(status == 200 and time.monotonic() - began <= 5.0)
            finally:
                stop.set()
    assert len(held) >= 50
    assert sum(answered) >= 8, answered


@pytest.mark.parametrize(("trusted", "statuses"), [((), [200, 503, 503]), (("127.0.0.1",), [200, 200, 200])])
def test_x_forwarded_for_counts_only_from_a_trusted_proxy(catalog, ccp_val, trusted, statuses):
    image = cv2.imread(str(ccp_val[0]["path"]))
    big = cv2.imencode(".jpg", cv2.resize(image, None, fx=5, fy=5))[1].tobytes()  # a look of a few seconds
    options = ServerOptions(workers=1, queue_size=3, per_client=1, trusted_proxies=trusted)
    app = create_app(LookOptions(catalog=catalog, threads=1), options)
    with LoopbackServer(app, options) as server:
        start = threading.Barrier(3)

        def post(n: int) -> int:
            headers = {"X-Forwarded-For": f"10.9.9.{n}"}
            start.wait()  # all three in flight at once: a look of this photo takes seconds
            return httpx.post(f"{server.url}/v1/look", content=big, headers=headers, timeout=120).status_code

        with ThreadPoolExecutor(3) as threads:
            assert sorted(threads.map(post, range(3))) == statuses
