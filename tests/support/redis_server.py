"""A throwaway ``redis-server`` of a test's own on a loopback port: its queue, locks and marks are the test's alone,
so tests that start ``oodaloo worker`` processes run beside others under xdist."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.support.app_process import free_port

REDIS_SERVER = shutil.which("redis-server")
START_SECONDS = 20.0
POLL_SECONDS = 0.1


class RedisServer:
    """``redis-server`` on ``port`` with no persistence, killed (-9) at will."""

    def __init__(self, port: int, directory: Path) -> None:
        self.port = port
        self.directory = directory
        self.url = f"redis://127.0.0.1:{port}/0"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        assert REDIS_SERVER is not None, "redis-server is not installed"
        command = [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        with (self.directory / "redis.log").open("ab") as log:
            self._process = subprocess.Popen(
                [*command, "--dir", str(self.directory)], stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + START_SECONDS
        with self.client() as client:
            while not self._answers(client):
                assert time.monotonic() < deadline, "redis-server did not answer"
                time.sleep(POLL_SECONDS)

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_timeout=2.0)

    def kill(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait(timeout=START_SECONDS)

    def _answers(self, client: redis.Redis) -> bool:
        assert self._process is not None
        assert self._process.poll() is None, "redis-server exited"
        with contextlib.suppress(redis.ConnectionError, redis.TimeoutError):
            return bool(client.ping())
        return False


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A running throwaway Redis for one test, killed after it."""
    server = RedisServer(free_port(), tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.kill()
