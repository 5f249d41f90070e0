"""The embedded default's outbox, viewable in the console: where mail goes when no SMTP server is configured (one
``.eml`` file per message, ``infra/mail.py``). A signed-in user sees the messages addressed to them — their Friday
digests — and opens one as a mail client would show it: the HTML in a sandboxed frame (no scripts, no navigation,
its inline images carried inside it) and the plain text beside it."""

from __future__ import annotations

import base64
import re

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from oodaloo.domains.core.models import User
from oodaloo.infra.mail import FileOutbox, OutboxMessage
from oodaloo.runway.deps import OptionalCaller
from oodaloo.runway.experiences.web import PageNotFound, SignInRequired, render
from oodaloo.settings import Settings

router = APIRouter(include_in_schema=False)

_CID = re.compile(r"""(["'(])cid:([^"')\s]+)""")


def _signed_in(caller: OptionalCaller) -> User:
    if caller is None:
        raise SignInRequired()
    return caller.user


def _outbox(request: Request) -> FileOutbox | None:
    """The file outbox, or None where mail goes out by SMTP (nothing is kept)."""
    settings: Settings = request.app.state.settings
    return None if settings.smtp_host else FileOutbox(settings.outbox_dir)


@router.get("/outbox", response_class=HTMLResponse)
async def outbox_page(request: Request, caller: OptionalCaller) -> HTMLResponse:
    user = _signed_in(caller)
    outbox = _outbox(request)
    entries = outbox.list_for(user.email) if outbox is not None else []
    context = {"user": user, "entries": entries, "smtp": outbox is None}
    return render(request, "console/outbox.html", context)


@router.get("/outbox/{message_id}", response_class=HTMLResponse)
async def outbox_message_page(message_id: str, request: Request, caller: OptionalCaller) -> HTMLResponse:
    user = _signed_in(caller)
    outbox = _outbox(request)
    message = outbox.open(message_id) if outbox is not None else None
    # Another person's message is as absent as one that never was: ids must not reveal who received what.
    if message is None or user.email.lower() not in (address.lower() for address in message.to):
        raise PageNotFound()
    context = {"user": user, "message": message, "framed": framed_html(message)}
    return render(request, "console/outbox_message.html", context)


def framed_html(message: OutboxMessage) -> str | None:
    """The message's HTML for the sandboxed frame: each ``cid:`` image carried inside as a ``data:`` URL (a sandboxed
    frame has no origin, so it could not fetch them with the viewer's sign-in)."""
    if message.html is None:
        return None

    def inline(match: re.Match[str]) -> str:
        part = message.parts.get(match.group(2))
        if part is None:
            return match.group(0)
        content_type, data = part
        return f"{match.group(1)}data:{content_type};base64,{base64.b64encode(data).decode()}"

    return _CID.sub(inline, message.html)
