"""Runs an ASGI app on a real loopback port in a background thread, for tests over real HTTP."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any, Literal

import uvicorn
from starlette.applications import Starlette
from starlette.types import ASGIApp, Receive, Scope, Send


@contextlib.contextmanager
def serve(
    app: Any,
    *,
    host: str = "127.0.0.1",
    lifespan: Literal["auto", "on", "off"] = "on",
    listener: socket.socket | None = None,
    start_seconds: float = 30.0,
) -> Iterator[str]:
    """Serve ``app`` on ``host`` at a free port, or on ``listener`` (a socket bound already, when the app's settings
    must name its port before it is built); yields its base URL (no trailing slash)."""
    # log_config/log_level None: a test server must not reconfigure the process's logging (the app owns it).
    config = uvicorn.Config(
        app, host=host, port=0, log_level=None, lifespan=lifespan, access_log=False, log_config=None
    )
    server = uvicorn.Server(config)
    sockets = {"sockets": [listener]} if listener is not None else {}
    thread = threading.Thread(target=server.run, kwargs=sockets, name="test-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + start_seconds
    while not server.started:  # uvicorn offers no event to wait on: a short, bounded poll
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("test server did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


class Swappable:
    """An ASGI app whose inner app tests replace, so one loopback server serves a whole module (starting is slow)."""

    def __init__(self) -> None:
        self.app: ASGIApp = Starlette()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)
