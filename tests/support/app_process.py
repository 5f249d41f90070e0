"""Oodaloo (or any Python entry point) as an OS subprocess for tests: started with chosen env, awaited, killed -9."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import httpx

REPO_ROOT = Path(__file__).resolve().parents[2]
# How long a process gets to answer its readiness URL: start-up imports, migrations and the first connection.
READY_TIMEOUT_SECONDS = 60.0
READY_POLL_SECONDS = 0.1
STOP_TIMEOUT_SECONDS = 15.0
# The parent's OODALOO_* settings (e.g. the test database URLs) must not leak into a child configured by env.
_SETTINGS_PREFIX = "OODALOO_"


def free_port() -> int:
    """A loopback port free right now (the child binds it a moment later; collisions are retried by callers)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def oodaloo_command(*args: str) -> list[str]:
    """``oodaloo <args>`` run by this interpreter, whether or not the console script is on PATH."""
    return [sys.executable, "-c", "from oodaloo.cli import app; app()", *args]


def python_module_command(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]


def child_env(settings: Mapping[str, str]) -> dict[str, str]:
    """This process's environment without any ``OODALOO_*`` variable, plus ``settings``."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(_SETTINGS_PREFIX)}
    env.update(settings)
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


class AppProcess:
    """One child process; its stdout and stderr go to ``log_path`` (shown when it fails to start)."""

    def __init__(self, command: Sequence[str], *, env: Mapping[str, str], log_path: Path, cwd: Path = REPO_ROOT):
        self.command = list(command)
        self.env = child_env(env)
        self.log_path = log_path
        self.cwd = cwd
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        return self._running().pid

    def start(self) -> AppProcess:
        if self._process is not None and self._process.poll() is None:
            raise RuntimeError("the process is already running")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                self.command, cwd=self.cwd, env=self.env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        return self

    def wait_until_ready(self, url: str, *, timeout: float = READY_TIMEOUT_SECONDS) -> None:
        """Poll ``url`` until it answers 200; fail with the process's output if it exits or the time runs out."""
        deadline = time.monotonic() + timeout
        while True:
            if self.exit_code() is not None:
                raise RuntimeError(f"{self.command[-1]!r} exited with {self.exit_code()}:\n{self.output()}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(url, timeout=2.0).status_code == 200:
                    return
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not answer within {timeout:.0f} s:\n{self.output()}")
            time.sleep(READY_POLL_SECONDS)

    def exit_code(self) -> int | None:
        return None if self._process is None else self._process.poll()

    def wait(self, timeout: float) -> int:
        """Wait for the process to end on its own; kill it and fail if it takes longer than ``timeout``."""
        try:
            return self._running().wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise RuntimeError(f"{self.command!r} ran longer than {timeout:.0f} s:\n{self.output()}") from None

    def kill(self) -> None:
        """``kill -9``: no shutdown hook runs, as when a machine or container dies."""
        process = self._process
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=STOP_TIMEOUT_SECONDS)

    def terminate(self) -> None:
        """SIGTERM, then SIGKILL if it has not stopped within STOP_TIMEOUT_SECONDS."""
        process = self._process
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            self.kill()

    def output(self, last_chars: int = 6000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-last_chars:]
        except FileNotFoundError:
            return ""

    def _running(self) -> subprocess.Popen[bytes]:
        if self._process is None:
            raise RuntimeError("the process was never started")
        return self._process


@contextlib.contextmanager
def running(process: AppProcess) -> Iterator[AppProcess]:
    """Start ``process`` and make sure it is gone afterwards, whatever happens in between."""
    process.start()
    try:
        yield process
    finally:
        process.terminate()


def app_settings_env(*, port: int, database_url: str, **settings: str | float | int | bool | None) -> dict[str, str]:
    """``OODALOO_*`` variables for ``oodaloo run`` on ``port``: the given settings, ``None`` ones left out."""
    env = {"OODALOO_HOST": "127.0.0.1", "OODALOO_PORT": str(port), "OODALOO_DATABASE_URL": database_url}
    # As in-process test apps: no background sync of every connected business in the shared test database.
    env[_SETTINGS_PREFIX + "MIRROR_SWEEP"] = "false"
    for name, value in settings.items():
        if value is None:
            continue
        text = str(value).lower() if isinstance(value, bool) else str(value)
        env[_SETTINGS_PREFIX + name.upper()] = text
    return env
