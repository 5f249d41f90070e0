"""Logging: secrets never reach a log line, whether logged by us (structlog) or a library (stdlib)."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from oodaloo.infra.logging import configure_logging, get_logger

SECRETS = ("s3cr3t-pass", "tok_live_123", "rt-456", "auth-code-789", "client-sec-000", "sess-abc")


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    configure_logging("INFO", "json", stream=stream)
    yield stream
    configure_logging("WARNING", "console")


def _events(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_structlog_events_are_json_with_secrets_redacted(log_stream: io.StringIO) -> None:
    structlog.contextvars.bind_contextvars(request_id="req-123")
    try:
        get_logger("oodaloo.test").info(
            "oauth_exchange",
            password="s3cr3t-pass",
            headers={"Authorization": "Bearer tok_live_123", "Cookie": "oodaloo_session=sess-abc", "Accept": "*/*"},
            form={"code": "auth-code-789", "refresh_token": "rt-456", "client_secret": "client-sec-000"},
            realm_id="9130357012345678",
        )
    finally:
        structlog.contextvars.clear_contextvars()

    [event] = _events(log_stream)
    text = json.dumps(event)
    assert not any(secret in text for secret in SECRETS)
    assert event["request_id"] == "req-123"
    assert event["realm_id"] == "9130357012345678"
    assert event["headers"] == {"Authorization": "[REDACTED]", "Cookie": "[REDACTED]", "Accept": "*/*"}


def test_free_text_from_libraries_is_redacted(log_stream: io.StringIO) -> None:
    # uvicorn.access is muted by servers started with access_log=False; uvicorn.error carries free text alike.
    logging.getLogger("uvicorn.error").info(
        '%s - "%s %s HTTP/1.1" %d', "127.0.0.1", "GET", "/qbo/callback?code=auth-code-789&realmId=42", 200
    )
    logging.getLogger("httpx").warning("retrying with Authorization: Bearer tok_live_123")
    logging.getLogger("oodaloo.test").info("token exchange body: refresh_token=rt-456&client_secret=client-sec-000")

    text = log_stream.getvalue()
    assert not any(secret in text for secret in SECRETS)
    assert "realmId=42" in text
    assert len(_events(log_stream)) == 3


def test_exceptions_are_logged_with_their_traceback(log_stream: io.StringIO) -> None:
    try:
        raise ValueError("bad password=s3cr3t-pass")
    except ValueError:
        get_logger("oodaloo.test").exception("failed")

    [event] = _events(log_stream)
    assert "ValueError" in str(event["exception"])
    assert "s3cr3t-pass" not in json.dumps(event)
