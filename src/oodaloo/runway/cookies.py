"""The session cookie: HttpOnly, SameSite=Lax, and Secure everywhere but development."""

from __future__ import annotations

from datetime import datetime

from starlette.responses import Response

from oodaloo.infra.db.base import utcnow
from oodaloo.runway.deps import SESSION_COOKIE
from oodaloo.settings import Settings


def set_session_cookie(response: Response, token: str, expires_at: datetime, settings: Settings) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int((expires_at - utcnow()).total_seconds()),
        httponly=True,
        samesite="lax",
        secure=not settings.is_development,
        path="/",
    )


def clear_session_cookie(response: Response, settings: Settings) -> None:
    response.delete_cookie(SESSION_COOKIE, httponly=True, samesite="lax", secure=not settings.is_development, path="/")
