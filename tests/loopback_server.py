"""uvicorn serving an app in a thread on a free loopback port, configured as ``serve`` configures it."""

from __future__ import annotations

import socket
import threading
import time

import httpx
import uvicorn


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LoopbackServer:
    """A context manager: the server runs (and answers /healthz) inside the ``with`` block."""

    def __init__(self, app, options=None, *, host: str = "127.0.0.1") -> None:
        from edge_bml.server.app import ServerOptions
        from edge_bml.server.http_server import server_config

        self.host = host
        self.port = free_port()
        config = server_config(app, host=host, port=self.port, options=options or ServerOptions(), log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def __enter__(self):
        self.thread.start()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise RuntimeError("server did not start")

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
