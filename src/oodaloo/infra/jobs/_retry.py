"""SmartSync's retry policy: which outcomes are retried and how long to wait before the next attempt.

Every number of the policy is a named constant here (STYLE 10). The waits:
- 5xx, timeouts, connection and protocol errors: exponential backoff with full jitter — a random wait between 0 and
  ``min(MAX_BACKOFF, BASE * FACTOR ** (attempt - 1))`` — so callers that failed together do not retry together.
- ``Retry-After`` on any retryable answer is honoured, capped at ``RETRY_AFTER_CAP_SECONDS``.
- 429 without ``Retry-After``: Intuit's guidance is to wait 60 s. Background work does. A user is not kept waiting a
  minute: user calls wait a short, jittered ``USER_THROTTLED_WAIT_SECONDS`` and rely on the realm limiter, which keeps
  our own traffic under QBO's windows, so a 429 means another app shares the realm's budget or a window is briefly
  over; if QBO keeps refusing, the user's deadline ends the call with a clear error instead of a spinner.
- User calls get fewer attempts and a default deadline; background calls more attempts and no deadline.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from oodaloo.infra.http import HttpResponse

BASE_DELAY_SECONDS = 0.25
BACKOFF_FACTOR = 2.0
MAX_BACKOFF_SECONDS = 8.0
RETRY_AFTER_CAP_SECONDS = 30.0
INTUIT_THROTTLED_WAIT_SECONDS = 60.0
USER_THROTTLED_WAIT_SECONDS = 2.0
USER_MAX_ATTEMPTS = 3
BACKGROUND_MAX_ATTEMPTS = 5
# A user action that has not settled in this long is answered with DeadlineExceeded (the UI says "still working").
USER_DEFAULT_DEADLINE_SECONDS = 30.0

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
THROTTLED_STATUS = 429
UNAUTHORIZED_STATUS = 401


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int
    base_delay_seconds: float = BASE_DELAY_SECONDS
    backoff_factor: float = BACKOFF_FACTOR
    max_backoff_seconds: float = MAX_BACKOFF_SECONDS
    retry_after_cap_seconds: float = RETRY_AFTER_CAP_SECONDS
    throttled_wait_seconds: float = INTUIT_THROTTLED_WAIT_SECONDS
    default_deadline_seconds: float | None = None

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if min(self.base_delay_seconds, self.max_backoff_seconds, self.retry_after_cap_seconds) < 0:
            raise ValueError("waits must not be negative")

    def backoff_seconds(self, attempt: int, rng: random.Random) -> float:
        """Full jitter after the ``attempt``-th failure (1-based)."""
        ceiling = min(self.max_backoff_seconds, self.base_delay_seconds * self.backoff_factor ** (attempt - 1))
        return rng.uniform(0, ceiling)

    def throttled_seconds(self, rng: random.Random) -> float:
        # Between half and all of the wait, so throttled callers spread out instead of returning in one burst.
        return rng.uniform(self.throttled_wait_seconds / 2, self.throttled_wait_seconds)

    def wait_before_retry(self, attempt: int, response: HttpResponse | None, rng: random.Random) -> float:
        """How long to wait after a retryable failure of the ``attempt``-th try (``response`` None: transport error)."""
        if response is not None:
            retry_after = parse_retry_after(response.headers.get("retry-after"))
            if retry_after is not None:
                return min(retry_after, self.retry_after_cap_seconds)
            if response.status == THROTTLED_STATUS:
                return self.throttled_seconds(rng)
        return self.backoff_seconds(attempt, rng)


USER_RETRY_POLICY = RetryPolicy(
    max_attempts=USER_MAX_ATTEMPTS,
    throttled_wait_seconds=USER_THROTTLED_WAIT_SECONDS,
    default_deadline_seconds=USER_DEFAULT_DEADLINE_SECONDS,
)
BACKGROUND_RETRY_POLICY = RetryPolicy(max_attempts=BACKGROUND_MAX_ATTEMPTS)


def is_retryable_status(status: int) -> bool:
    return status in RETRYABLE_STATUSES


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date); None when absent or unreadable."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return max(0.0, seconds)
