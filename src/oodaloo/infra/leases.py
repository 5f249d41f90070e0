"""Leases kept in a database row (a scheduled payment being made, a plan being executed): the name of the holder, and
the task that renews the lease while the holder works, so that only a dead holder's lease runs out."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

# A lease is renewed every third of it: two renewals may fail before it runs out.
LEASE_RENEWALS_PER_LEASE = 3


def lease_owner(max_length: int) -> str:
    """A holder's name, unique per process and per holder (tests run several in one process)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"[-max_length:]


@contextlib.asynccontextmanager
async def renewed(
    renew: Callable[[], Awaitable[Any]],
    *,
    lease_seconds: float,
    name: str,
    on_failure: Callable[[Exception], object],
) -> AsyncIterator[None]:
    """Call ``renew`` every third of ``lease_seconds`` while the block runs (a task called ``name``). A renewal that
    fails is given to ``on_failure`` (to log it) and the next one tried; if none gets through, the lease runs out and
    the sweep takes the work over."""

    async def keep_renewing() -> None:
        while True:
            await asyncio.sleep(lease_seconds / LEASE_RENEWALS_PER_LEASE)
            try:
                await renew()
            except Exception as error:
                on_failure(error)

    renewing = asyncio.create_task(keep_renewing(), name=name)
    try:
        yield
    finally:
        renewing.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await renewing
