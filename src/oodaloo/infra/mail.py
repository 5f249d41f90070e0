"""Sending mail: a message with a plain-text and an HTML alternative and inline images (``cid:``), handed to SMTP
(``aiosmtplib``, production) or written as an ``.eml`` file to an outbox directory (the embedded default, where the
console shows it at ``/outbox``).

The MIME shape is the one every mail client renders: ``multipart/alternative`` of ``text/plain`` and a
``multipart/related`` holding the HTML and its images, each image a part with a ``Content-ID`` the HTML names as
``cid:<id>``. A message's ``Message-ID`` is given by the caller, derived from what it is (a business's digest of one
week), so a retried send carries the same one and a receiving system can tell the copies apart.
"""

from __future__ import annotations

import asyncio
import email.policy
import os
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import format_datetime, getaddresses, parsedate_to_datetime
from pathlib import Path
from typing import Protocol

import aiosmtplib

# An outbox message's id is its file name without ``.eml``: letters, digits, dots, dashes and underscores only, so an
# id from a URL can never name a file outside the outbox.
OUTBOX_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")
EML_SUFFIX = ".eml"


class MailError(Exception):
    """The message could not be handed over (the SMTP server refused it or could not be reached)."""


@dataclass(frozen=True)
class InlineImage:
    """An image the HTML shows as ``<img src="cid:{cid}">``."""

    cid: str
    data: bytes
    filename: str
    subtype: str = "png"


@dataclass(frozen=True)
class Mail:
    """One message. ``key`` names it for good (the outbox file, the Message-ID): the same message sent again keeps
    it."""

    key: str
    sender: str
    to: tuple[str, ...]
    subject: str
    text: str
    html: str
    images: tuple[InlineImage, ...] = ()
    date: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def message_id(self) -> str:
        _, address = getaddresses([self.sender])[0]
        domain = address.rpartition("@")[2] or "oodaloo.localhost"
        return f"<{self.key}@{domain}>"


def build_message(mail: Mail) -> EmailMessage:
    """The MIME message of ``mail`` (see the module docstring for its shape)."""
    if not OUTBOX_ID.match(mail.key):
        raise ValueError(f"a mail key is letters, digits, dots, dashes and underscores: {mail.key!r}")
    message = EmailMessage(policy=email.policy.SMTP)
    message["Subject"] = mail.subject
    message["From"] = mail.sender
    message["To"] = ", ".join(mail.to)
    message["Date"] = format_datetime(mail.date.astimezone(UTC))
    message["Message-ID"] = mail.message_id
    message.set_content(mail.text)
    message.add_alternative(mail.html, subtype="html")
    html_part = message.get_body(preferencelist=("html",))
    assert isinstance(html_part, EmailMessage)
    for image in mail.images:
        # add_related turns the HTML part into multipart/related holding it and the image.
        html_part.add_related(
            image.data,
            maintype="image",
            subtype=image.subtype,
            cid=f"<{image.cid}>",
            disposition="inline",  # shown in place, not offered as an attachment
            filename=image.filename,
        )
    return message


class MailTransport(Protocol):
    async def send(self, mail: Mail) -> None:
        """Hand ``mail`` over for delivery; MailError when it could not be."""
        ...


class SmtpTransport:
    """Delivery by SMTP: a connection per message (a weekly digest does not need a pool), STARTTLS before any login."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = True,
        timeout_seconds: float = 30.0,
    ) -> None:
        self._host = host
        self._port = port
        self._username = username
        self._password = password
        self._starttls = starttls
        self._timeout = timeout_seconds

    async def send(self, mail: Mail) -> None:
        try:
            await aiosmtplib.send(
                build_message(mail),
                hostname=self._host,
                port=self._port,
                username=self._username,
                password=self._password,
                start_tls=self._starttls,
                timeout=self._timeout,
            )
        except (aiosmtplib.SMTPException, OSError) as error:
            raise MailError(f"SMTP {self._host}:{self._port} did not take the message: {error}") from error


@dataclass(frozen=True)
class OutboxEntry:
    """A message in the outbox as a list shows it."""

    id: str
    subject: str
    sender: str
    to: tuple[str, ...]
    date: datetime | None


@dataclass(frozen=True)
class OutboxMessage(OutboxEntry):
    """A message in the outbox, opened: its text and HTML bodies and its inline parts by Content-ID."""

    text: str | None
    html: str | None
    parts: dict[str, tuple[str, bytes]]  # cid -> (content type, bytes)


class FileOutbox:
    """Messages as ``<key>.eml`` files in ``directory``. A file is written under a temporary name and renamed into
    place, so a reader never sees half a message, and a message sent again replaces itself: one file per key."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)

    async def send(self, mail: Mail) -> None:
        data = build_message(mail).as_bytes()
        await asyncio.to_thread(self._write, mail.key, data)

    def _write(self, key: str, data: bytes) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        temporary = self.directory / f".{key}.{uuid.uuid4().hex}.tmp"
        try:
            with temporary.open("wb") as file:
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, self.directory / f"{key}{EML_SUFFIX}")
        finally:
            temporary.unlink(missing_ok=True)

    def list_for(self, address: str) -> list[OutboxEntry]:
        """The messages addressed to ``address`` (case-insensitive), newest first."""
        wanted = address.strip().lower()
        entries = [entry for entry in self._entries() if wanted in (to.lower() for to in entry.to)]
        return sorted(entries, key=lambda entry: (entry.date or datetime.min.replace(tzinfo=UTC), entry.id))[::-1]

    def open(self, message_id: str) -> OutboxMessage | None:
        """The message ``message_id`` (its file name without ``.eml``); None when there is none or the id is not one."""
        path = self._path(message_id)
        if path is None:
            return None
        try:
            message = _parse(path.read_bytes())
        except FileNotFoundError:
            return None
        return _opened(message_id, message)

    def _path(self, message_id: str) -> Path | None:
        if not OUTBOX_ID.match(message_id):
            return None
        return self.directory / f"{message_id}{EML_SUFFIX}"

    def _entries(self) -> list[OutboxEntry]:
        if not self.directory.is_dir():
            return []
        entries = []
        for path in self.directory.glob(f"*{EML_SUFFIX}"):
            if path.name.startswith(".") or not OUTBOX_ID.match(path.stem):
                continue
            try:
                with path.open("rb") as file:
                    headers = BytesParser(policy=email.policy.default).parse(file, headersonly=True)
            except FileNotFoundError:  # removed while listing
                continue
            assert isinstance(headers, EmailMessage)
            entries.append(_entry(path.stem, headers))
        return entries


def _parse(data: bytes) -> EmailMessage:
    message = BytesParser(policy=email.policy.default).parsebytes(data)
    assert isinstance(message, EmailMessage)
    return message


def _addresses(value: str | None) -> tuple[str, ...]:
    return tuple(address for _, address in getaddresses([value or ""]) if address)


def _entry(message_id: str, message: EmailMessage) -> OutboxEntry:
    date_header = message.get("Date")
    try:
        when = parsedate_to_datetime(str(date_header)) if date_header else None
    except (TypeError, ValueError):
        when = None
    return OutboxEntry(
        id=message_id,
        subject=str(message.get("Subject", "")),
        sender=str(message.get("From", "")),
        to=_addresses(str(message.get("To", ""))),
        date=when,
    )


def _opened(message_id: str, message: EmailMessage) -> OutboxMessage:
    entry = _entry(message_id, message)
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    parts: dict[str, tuple[str, bytes]] = {}
    for part in message.walk():
        cid = part.get("Content-ID")
        payload = part.get_payload(decode=True)
        if cid and isinstance(payload, bytes):
            parts[str(cid).strip().strip("<>")] = (part.get_content_type(), payload)
    return OutboxMessage(
        id=entry.id,
        subject=entry.subject,
        sender=entry.sender,
        to=entry.to,
        date=entry.date,
        text=_content(text),
        html=_content(html),
        parts=parts,
    )


def _content(part: object) -> str | None:
    if not isinstance(part, EmailMessage):
        return None
    content = part.get_content()
    return content if isinstance(content, str) else None


def mail_transport(
    *,
    smtp_host: str | None,
    smtp_port: int,
    smtp_username: str | None,
    smtp_password: str | None,
    smtp_starttls: bool,
    smtp_timeout_seconds: float,
    outbox_dir: str | Path,
) -> SmtpTransport | FileOutbox:
    """SMTP when a host is configured, else the file outbox (settings refuse the latter in production)."""
    if smtp_host:
        return SmtpTransport(
            host=smtp_host,
            port=smtp_port,
            username=smtp_username,
            password=smtp_password,
            starttls=smtp_starttls,
            timeout_seconds=smtp_timeout_seconds,
        )
    return FileOutbox(outbox_dir)
