"""SmartSync's retry policy: what is retried, full-jitter backoff within its cap, Retry-After honoured and capped."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from oodaloo.infra.http import HttpResponse
from oodaloo.infra.jobs._retry import (
    BACKGROUND_RETRY_POLICY,
    INTUIT_THROTTLED_WAIT_SECONDS,
    USER_RETRY_POLICY,
    RetryPolicy,
    is_retryable_status,
    parse_retry_after,
)

SAMPLES = 200


def answer(status: int, **headers: str) -> HttpResponse:
    return HttpResponse(status=status, headers=headers, content=b"", elapsed_seconds=0.0)


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_throttling_and_server_errors_are_retryable(status: int) -> None:
    assert is_retryable_status(status)


@pytest.mark.parametrize("status", [200, 400, 401, 403, 404, 409])
def test_success_and_client_errors_are_not(status: int) -> None:
    assert not is_retryable_status(status)


def test_backoff_is_full_jitter_under_an_exponential_ceiling_with_a_cap() -> None:
    policy = RetryPolicy(max_attempts=10, base_delay_seconds=0.25, backoff_factor=2.0, max_backoff_seconds=8.0)
    rng = random.Random(1)
    for attempt, ceiling in [(1, 0.25), (2, 0.5), (3, 1.0), (6, 8.0), (9, 8.0)]:
        waits = [policy.backoff_seconds(attempt, rng) for _ in range(SAMPLES)]
        assert all(0 <= wait <= ceiling for wait in waits)
        assert max(waits) > ceiling / 2  # spread over the range, not pinned near zero
        assert len(set(waits)) > SAMPLES / 2


def test_retry_after_seconds_are_honoured_and_capped() -> None:
    policy = RetryPolicy(max_attempts=3, retry_after_cap_seconds=30.0)
    rng = random.Random(2)
    assert policy.wait_before_retry(1, answer(503, **{"retry-after": "7"}), rng) == 7.0
    assert policy.wait_before_retry(1, answer(429, **{"retry-after": "3600"}), rng) == 30.0


def test_a_throttled_answer_without_retry_after_waits_the_throttled_interval() -> None:
    rng = random.Random(3)
    background = [BACKGROUND_RETRY_POLICY.wait_before_retry(1, answer(429), rng) for _ in range(SAMPLES)]
    assert all(INTUIT_THROTTLED_WAIT_SECONDS / 2 <= wait <= INTUIT_THROTTLED_WAIT_SECONDS for wait in background)
    user = [USER_RETRY_POLICY.wait_before_retry(1, answer(429), rng) for _ in range(SAMPLES)]
    assert max(user) <= USER_RETRY_POLICY.throttled_wait_seconds < INTUIT_THROTTLED_WAIT_SECONDS


def test_a_transport_error_waits_the_backoff() -> None:
    policy = RetryPolicy(max_attempts=3, base_delay_seconds=0.5)
    assert 0 <= policy.wait_before_retry(1, None, random.Random(4)) <= 0.5


def test_user_calls_get_fewer_attempts_and_a_deadline() -> None:
    assert USER_RETRY_POLICY.max_attempts < BACKGROUND_RETRY_POLICY.max_attempts
    assert USER_RETRY_POLICY.default_deadline_seconds is not None
    assert BACKGROUND_RETRY_POLICY.default_deadline_seconds is None


def test_retry_after_forms() -> None:
    later = datetime.now(UTC) + timedelta(seconds=120)
    from_date = parse_retry_after(format_datetime(later, usegmt=True))
    assert from_date is not None
    assert 100 < from_date <= 120
    assert parse_retry_after("2.5") == 2.5
    assert parse_retry_after("-4") == 0.0
    assert parse_retry_after(format_datetime(datetime.now(UTC) - timedelta(hours=1), usegmt=True)) == 0.0
    for unreadable in [None, "", "soon", "nan"]:
        assert parse_retry_after(unreadable) is None


def test_policies_are_validated() -> None:
    with pytest.raises(ValueError, match="max_attempts"):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ValueError, match="negative"):
        RetryPolicy(max_attempts=1, base_delay_seconds=-1)
