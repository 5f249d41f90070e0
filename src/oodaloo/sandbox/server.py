"""Serves the sandbox with uvicorn, keeping query strings (which may carry OAuth codes) out of the access log."""

from __future__ import annotations

import logging

import uvicorn

from .app import create_sandbox_app
from .config import SandboxConfig


class _StripQueryStrings(logging.Filter):
    """uvicorn's access record args are (client, method, path with query, http version, status)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5 and isinstance(args[2], str):
            record.args = (args[0], args[1], args[2].split("?", 1)[0], args[3], args[4])
        return True


def run(config: SandboxConfig, *, host: str = "127.0.0.1", port: int = 8765) -> None:
    """Serve ``create_sandbox_app(config)`` until interrupted."""
    server_config = uvicorn.Config(create_sandbox_app(config), host=host, port=port, log_level="info")
    # uvicorn.Config has configured logging by now, so the filter is not replaced.
    logging.getLogger("uvicorn.access").addFilter(_StripQueryStrings())
    uvicorn.Server(server_config).run()
