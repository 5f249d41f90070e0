"""Mail transports: a message with text and HTML alternatives and an inline image, delivered to a real SMTP server on
loopback (aiosmtpd) as a mail client expects it, a refusal or a dead server reported as MailError; and the file
outbox of the embedded default — one file per message key, written whole, listed and opened per recipient."""

from __future__ import annotations

import asyncio
import io
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import pytest
from PIL import Image

from oodaloo.infra.mail import FileOutbox, InlineImage, Mail, MailError, SmtpTransport, mail_transport
from tests.support.app_process import free_port
from tests.support.smtp_server import smtp_server


def png() -> bytes:
    image = Image.new("RGB", (40, 20), (31, 95, 168))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def a_mail(key: str = "digest-business-1-2026-03-16", to: tuple[str, ...] = ("Ana Owner <ana@example.com>",)) -> Mail:
    return Mail(
        key=key,
        sender="Oodaloo <digest@oodaloo.example.com>",
        to=to,
        subject="Harbor Design: runway 4 weeks",
        text="RUNWAY: 4 weeks\nCash in the bank: $173,908.54\n",
        html='<p>Runway: <strong>4 weeks</strong></p><img src="cid:runway-chart" alt="The runway chart">',
        images=(InlineImage("runway-chart", png(), "runway.png"),),
        date=datetime(2026, 3, 20, 11, 0, tzinfo=UTC),
    )


def smtp(port: int) -> SmtpTransport:
    return SmtpTransport(host="127.0.0.1", port=port, starttls=False, timeout_seconds=5)


def parts_of(message: EmailMessage) -> list[str]:
    return [part.get_content_type() for part in message.walk()]


# ------------------------------------------------------------------------------------------------------- SMTP
def test_smtp_delivers_text_and_html_alternatives_with_the_chart_inline() -> None:
    mail = a_mail(to=("Ana Owner <ana@example.com>", "viewer@example.com"))
    with smtp_server() as server:
        asyncio.run(smtp(server.port).send(mail))
        [received] = server.received

    assert received.mail_from == "digest@oodaloo.example.com"
    assert sorted(received.rcpt_tos) == ["ana@example.com", "viewer@example.com"]
    message = received.message
    assert message["Subject"] == mail.subject
    assert message["Message-ID"] == "<digest-business-1-2026-03-16@oodaloo.example.com>"
    assert parts_of(message) == [
        "multipart/alternative",
        "text/plain",
        "multipart/related",
        "text/html",
        "image/png",
    ]
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert isinstance(text, EmailMessage)
    assert isinstance(html, EmailMessage)
    assert "Cash in the bank: $173,908.54" in text.get_content()
    assert 'src="cid:runway-chart"' in html.get_content()
    # The image the HTML names is the part with that Content-ID, shown inline, and it decodes.
    image = next(part for part in message.walk() if part.get_content_type() == "image/png")
    assert image["Content-ID"] == "<runway-chart>"
    assert image.get_content_disposition() == "inline"
    payload = image.get_payload(decode=True)
    assert isinstance(payload, bytes)
    assert Image.open(io.BytesIO(payload)).size == (40, 20)


def test_a_refusal_or_a_server_that_is_not_there_is_a_mail_error() -> None:
    with smtp_server() as server:
        server.mailbox.refusal = "550 5.7.1 Relaying denied"
        with pytest.raises(MailError, match="Relaying denied"):
            asyncio.run(smtp(server.port).send(a_mail()))
        assert server.received == []
    with pytest.raises(MailError, match="did not take the message"):
        asyncio.run(smtp(free_port()).send(a_mail()))


# ---------------------------------------------------------------------------------------------- the outbox
def test_the_outbox_keeps_one_whole_file_per_message_key(tmp_path: Path) -> None:
    outbox = FileOutbox(tmp_path / "outbox")
    first = a_mail()
    asyncio.run(outbox.send(first))
    # Sent again (a retried digest): it replaces itself, and no temporary file is left behind.
    asyncio.run(outbox.send(first))
    asyncio.run(outbox.send(a_mail(key="digest-business-2-2026-03-16", to=("someone.else@example.com",))))

    files = sorted(path.name for path in (tmp_path / "outbox").iterdir())
    assert files == ["digest-business-1-2026-03-16.eml", "digest-business-2-2026-03-16.eml"]

    [entry] = outbox.list_for("ANA@example.com")
    assert (entry.id, entry.subject, entry.to) == (first.key, first.subject, ("ana@example.com",))
    assert entry.date == first.date
    opened = outbox.open(entry.id)
    assert opened is not None
    assert opened.text is not None
    assert "RUNWAY: 4 weeks" in opened.text
    assert opened.html is not None
    assert "cid:runway-chart" in opened.html
    content_type, data = opened.parts["runway-chart"]
    assert (content_type, data) == ("image/png", first.images[0].data)


def test_the_outbox_opens_nothing_outside_itself(tmp_path: Path) -> None:
    outbox = FileOutbox(tmp_path / "outbox")
    (tmp_path / "secret.eml").write_bytes(b"Subject: not yours\r\n\r\nhi\r\n")
    assert outbox.list_for("ana@example.com") == []  # no outbox yet
    for message_id in ("../secret", "..", "a/b", "", ".hidden", "x" * 300):
        assert outbox.open(message_id) is None
    with pytest.raises(ValueError, match="mail key"):
        asyncio.run(outbox.send(a_mail(key="../escape")))


def test_smtp_is_chosen_when_a_host_is_configured(tmp_path: Path) -> None:
    options = {
        "smtp_port": 2525,
        "smtp_username": None,
        "smtp_password": None,
        "smtp_starttls": True,
        "smtp_timeout_seconds": 5.0,
        "outbox_dir": tmp_path,
    }
    assert isinstance(mail_transport(smtp_host="mail.example.com", **options), SmtpTransport)
    outbox = mail_transport(smtp_host=None, **options)
    assert isinstance(outbox, FileOutbox)
    assert outbox.directory == tmp_path
