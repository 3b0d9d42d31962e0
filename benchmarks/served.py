"""``edge-bml serve`` in a subprocess on a free port, for the server benchmarks."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx


@contextmanager
def served(*options: str, host: str = "127.0.0.1") -> Iterator[tuple[subprocess.Popen, str]]:
    """(process, base URL) of a server started with ``options``, ready (``/healthz`` 200); stopped after.

    Raises:
        RuntimeError: the server did not become ready within 3 minutes.
    """
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = [sys.executable, "-m", "edge_bml.cli.main", "serve", "--host", host, "--port", str(port), *options]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError(f"edge-bml serve {' '.join(options)} did not become ready")
            time.sleep(0.5)
        yield server, url
    finally:
        server.terminate()
        server.wait()
