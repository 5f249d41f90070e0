"""What the job queue runs: named kinds of job, each with the handler (and optionally the sweep hook) that the layers
above register, and ``Job``, one request to run a kind with a JSON payload — the queued message."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

# Runs one job of a kind. The payload is JSON (ids, not objects): the database holds the truth, the job only points.
JobHandler = Callable[[dict[str, Any]], Awaitable[None]]


class JobSender(Protocol):
    """Where a sweep hook sends the jobs it finds: the queue running the sweep."""

    async def enqueue(
        self,
        kind: str,
        payload: dict[str, Any],
        *,
        serialize_on: str | None = None,
        coalesce_on: str | None = None,
        delay_seconds: float = 0.0,
    ) -> bool: ...


# Finds the work of a kind that a lost, dropped or late message left behind — from the database, the source of truth
# — and either does it or enqueues it; returns how many items it found. Runs every sweep interval.
SweepHook = Callable[[JobSender], Awaitable[int]]


@dataclass(frozen=True)
class Job:
    """One request to run ``kind``. ``serialize_on``: no two jobs with this key run at once, in any process.
    ``coalesce_on``: requests with this key merge (see ``queue.py``). ``not_before``: wall-clock seconds."""

    kind: str
    payload: dict[str, Any] = field(default_factory=dict)
    serialize_on: str | None = None
    coalesce_on: str | None = None
    not_before: float = 0.0

    def to_message(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_message(cls, message: dict[str, Any]) -> Job:
        return cls(
            kind=str(message["kind"]),
            payload=dict(message.get("payload") or {}),
            serialize_on=message.get("serialize_on"),
            coalesce_on=message.get("coalesce_on"),
            not_before=float(message.get("not_before") or 0.0),
        )


@dataclass(frozen=True)
class JobKind:
    name: str
    handler: JobHandler
    sweep: SweepHook | None


class UnknownJobKind(LookupError):
    def __init__(self, kind: str) -> None:
        super().__init__(f"no handler is registered for job kind {kind!r}")
        self.kind = kind


class JobKinds:
    """The kinds one process knows. A process that runs jobs (the embedded app, ``oodaloo worker``) must register
    every kind that is enqueued; infra registers its own (reconciliation), the wiring the domains'."""

    def __init__(self) -> None:
        self._kinds: dict[str, JobKind] = {}

    def register(self, name: str, handler: JobHandler, *, sweep: SweepHook | None = None) -> None:
        if name in self._kinds:
            raise ValueError(f"a handler is already registered for job kind {name!r}")
        self._kinds[name] = JobKind(name, handler, sweep)

    def get(self, name: str) -> JobKind:
        try:
            return self._kinds[name]
        except KeyError:
            raise UnknownJobKind(name) from None

    def with_sweeps(self) -> list[JobKind]:
        return [kind for kind in self._kinds.values() if kind.sweep is not None]
