"""A real SMTP server on loopback for tests (aiosmtpd in a thread of the test process): it keeps every message it
accepts, parsed, and can be told to refuse them the way a mail server does."""

from __future__ import annotations

import contextlib
import email.policy
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

from aiosmtpd.controller import Controller

from tests.support.app_process import free_port

HOST = "127.0.0.1"
# A port picked free can be taken before the server binds it: try a few.
BIND_ATTEMPTS = 5


@dataclass(frozen=True)
class Received:
    """One message the server accepted: the envelope, and the message as bytes and parsed."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        parsed = BytesParser(policy=email.policy.default).parsebytes(self.data)
        assert isinstance(parsed, EmailMessage)
        return parsed


class Mailbox:
    """aiosmtpd's handler: accepts (or refuses with ``refusal``, an SMTP reply such as "550 ...") every message."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._received: list[Received] = []
        self.refusal: str | None = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.refusal is not None:
            return self.refusal
        content = envelope.original_content or envelope.content
        data = content if isinstance(content, bytes) else str(content).encode()
        with self._lock:
            self._received.append(Received(str(envelope.mail_from), tuple(envelope.rcpt_tos), data))
        return "250 Message accepted for delivery"

    @property
    def received(self) -> list[Received]:
        with self._lock:
            return list(self._received)


@dataclass
class LoopbackSmtp:
    host: str
    port: int
    mailbox: Mailbox

    @property
    def received(self) -> list[Received]:
        return self.mailbox.received


@contextlib.contextmanager
def smtp_server() -> Iterator[LoopbackSmtp]:
    """An SMTP server listening on a free loopback port until the block ends."""
    mailbox = Mailbox()
    for attempt in range(BIND_ATTEMPTS):
        port = free_port()
        controller = Controller(mailbox, hostname=HOST, port=port)
        try:
            controller.start()
        except (OSError, RuntimeError):
            if attempt == BIND_ATTEMPTS - 1:
                raise
            continue
        try:
            yield LoopbackSmtp(HOST, port, mailbox)
        finally:
            controller.stop()
        return
