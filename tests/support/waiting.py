"""Waiting on what a test can observe — a bounded poll, never a sleep-and-hope — while watching that the processes
that should bring it about stay alive."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import TypeVar

from tests.support.app_process import AppProcess

T = TypeVar("T")


def until(
    condition: Callable[[], T | None],
    what: str,
    *,
    within: float,
    poll_seconds: float = 0.1,
    watched: Iterable[AppProcess] = (),
) -> T:
    """The first truthy result of ``condition``; fails naming ``what`` after ``within`` seconds, or at once (with its
    output) when a ``watched`` process exits."""
    deadline = time.monotonic() + within
    while True:
        for process in watched:
            assert process.exit_code() is None, f"{process.command[-1]} exited:\n{process.output()}"
        result = condition()
        if result:
            return result
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(poll_seconds)
