"""Structured logging (console or JSON) with a request id in every event and secrets redacted."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any, TextIO

import structlog
from structlog.typing import EventDict, Processor

REDACTED = "[REDACTED]"
# Keys whose values never reach a log line, matched case-insensitively and with - and _ treated alike.
SENSITIVE_KEYS = frozenset(
    {
        "authorization",
        "proxy_authorization",
        "cookie",
        "set_cookie",
        "password",
        "new_password",
        "current_password",
        "token",
        "access_token",
        "refresh_token",
        "id_token",
        "api_token",
        "session_token",
        "code",
        "client_secret",
        "secret",
        "secret_key",
        "csrf_token",
        "x_api_key",
    }
)
SENSITIVE_KEY_FRAGMENTS = ("password", "secret", "token")
# Sensitive values inside free text: bearer credentials, and query/form parameters like ``code=...``.
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+")
_PARAM = re.compile(
    r"(?i)(?P<name>\b(?:code|refresh_token|access_token|id_token|client_secret|password|token|secret)"
    r"[\"']?\s*[=:]\s*[\"']?)(?P<value>[^&\s\"',;}]+)"
)
_HANDLER_NAME = "oodaloo"


def is_sensitive_key(key: str) -> bool:
    normalized = key.lower().replace("-", "_")
    return normalized in SENSITIVE_KEYS or any(fragment in normalized for fragment in SENSITIVE_KEY_FRAGMENTS)


def redact_text(text: str) -> str:
    text = _BEARER.sub(lambda match: f"{match.group(1)} {REDACTED}", text)
    return _PARAM.sub(lambda match: match.group("name") + REDACTED, text)


def redact(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {key: REDACTED if is_sensitive_key(str(key)) else redact(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [redact(item) for item in value]
    if isinstance(value, str):
        return redact_text(value)
    return value


def redact_secrets(_logger: Any, _method: str, event_dict: EventDict) -> EventDict:
    """structlog processor: scrub every field of the event, nested ones included."""
    redacted: MutableMapping[str, Any] = redact(event_dict)
    return dict(redacted)


def _shared_processors() -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        redact_secrets,
    ]


def configure_logging(level: str = "INFO", fmt: str = "console", stream: TextIO | None = None) -> None:
    """Route structlog and stdlib logging (uvicorn, SQLAlchemy) through one redacting formatter."""
    renderer: Processor = (
        structlog.processors.JSONRenderer() if fmt == "json" else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[*_shared_processors(), structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_shared_processors(),
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for existing in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level.upper())


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    logger: structlog.stdlib.BoundLogger = structlog.stdlib.get_logger(name)
    return logger
