"""The sandbox's mail speaks real SMTP and IMAP, the support address answers, and each mail fault bites."""

from __future__ import annotations

import asyncio
import email
import email.policy
import imaplib
import smtplib
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from email.utils import make_msgid

import pytest
from imapclient import IMAPClient
from imapclient.exceptions import LoginError

from allclear.sandbox.faults import Switchboard, parse_fault
from allclear.sandbox.mail import REPLY_BODY, MailSandbox

PROBE_USER = "probe-login"
PROBE_PASSWORD = "probe-secret"
PROBE = "probe@customer.example.test"
SUPPORT = "support@help.example.test"


@contextmanager
def serving(box: MailSandbox) -> Iterator[MailSandbox]:
    """Run a MailSandbox in its own loop on a background thread, as the sandbox server runs it."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="mail-sandbox", daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(box.start(), loop).result(timeout=10)
    try:
        yield box
    finally:
        asyncio.run_coroutine_threadsafe(box.stop(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


@pytest.fixture
def mail():
    with serving(MailSandbox(Switchboard(), PROBE_USER, PROBE_PASSWORD, PROBE, SUPPORT)) as box:
        yield box


@pytest.fixture
def imap(mail):
    client = IMAPClient("127.0.0.1", port=mail.imap_port, ssl=False, timeout=5)
    client.login(PROBE_USER, PROBE_PASSWORD)
    client.select_folder("INBOX")
    yield client
    try:
        client.logout()
    except imaplib.IMAP4.abort:
        pass  # the session already broke (see test_idle_is_advertised_and_wakes_on_the_reply)


def fault(mail: MailSandbox, spec: str) -> None:
    mail.faults.switch_on(parse_fault(spec))


def send(mail: MailSandbox, sender: str = PROBE, password: str = PROBE_PASSWORD) -> tuple[str, str]:
    """Send a uniquely-subjected message to support; return (subject token, Message-ID)."""
    token = f"allclear-{uuid.uuid4().hex[:12]}"
    message = EmailMessage()
    message["From"] = sender
    message["To"] = SUPPORT
    message["Subject"] = f"Probe {token}"
    message["Message-ID"] = make_msgid(domain="customer.example.test")
    message.set_content("Post-maintenance probe.")
    with smtplib.SMTP("127.0.0.1", mail.smtp_port, timeout=5) as smtp:
        smtp.login(PROBE_USER, password)
        smtp.send_message(message)
    return token, message["Message-ID"]


def wait_for_reply(imap: IMAPClient, token: str, timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    while True:
        uids = imap.search(["SUBJECT", token])
        if uids or time.monotonic() >= deadline:
            return uids
        time.sleep(0.05)


def fetch(imap: IMAPClient, uid: int) -> EmailMessage:
    raw = imap.fetch([uid], ["RFC822"])[uid][b"RFC822"]
    return email.message_from_bytes(raw, policy=email.policy.default)


def test_support_auto_replies_into_the_probe_inbox(mail, imap):
    token, message_id = send(mail)
    uids = wait_for_reply(imap, token, timeout=3)
    assert len(uids) == 1
    reply = fetch(imap, uids[0])
    assert reply["Subject"] == f"Re: Probe {token}"
    assert reply["From"].addresses[0].addr_spec == SUPPORT
    assert reply["To"].addresses[0].addr_spec == PROBE
    assert reply["In-Reply-To"] == message_id and reply["References"] == message_id
    assert reply["Message-ID"] not in ("", message_id) and reply["Date"]
    assert reply.get_content().strip() == REPLY_BODY.strip()
    [received] = mail.messages()
    assert received.rcpt_tos == [SUPPORT] and received.message["Message-ID"] == message_id
    assert received.reply_delivered


def test_idle_is_advertised_and_wakes_on_the_reply(mail, imap):
    assert imap.has_capability("IDLE")
    imap.idle()
    started = time.monotonic()
    send(mail)
    try:
        responses = imap.idle_check(timeout=3)
        imap.idle_done()
    except imaplib.IMAP4.abort as exc:
        # imapclient reads IDLE updates from a non-blocking socket and may catch pymap's FETCH
        # update half-written: the server did wake the client (the probe reconnects on this).
        assert "FETCH" in str(exc) or "EXISTS" in str(exc), exc
        responses = [(1, b"EXISTS")]
    assert (1, b"EXISTS") in responses
    assert time.monotonic() - started < 2


def test_replies_to_other_senders_stay_out_of_the_probe_inbox(mail, imap):
    other_token, _ = send(mail, sender="someone@elsewhere.example.test")
    token, _ = send(mail)
    assert wait_for_reply(imap, token, timeout=3)
    assert imap.search(["SUBJECT", other_token]) == []
    other = mail.messages()[0]
    assert other.reply is not None and not other.reply_delivered


def test_probe_can_delete_its_messages(mail, imap):
    token, _ = send(mail)
    uids = wait_for_reply(imap, token, timeout=3)
    imap.delete_messages(uids)
    imap.expunge()
    assert imap.search(["ALL"]) == []


def test_mail_blackhole_accepts_but_never_replies(mail, imap):
    fault(mail, "mail-blackhole")
    token, _ = send(mail)
    assert len(mail.messages()) == 1
    assert wait_for_reply(imap, token, timeout=2) == []


def test_mail_slow_delays_the_reply(mail, imap):
    fault(mail, "mail-slow:1.5")
    sent = time.monotonic()
    token, _ = send(mail)
    assert wait_for_reply(imap, token, timeout=4)
    assert time.monotonic() - sent >= 1.5


def test_smtp_down_answers_421_and_recovers(mail):
    fault(mail, "smtp-down")
    with pytest.raises(smtplib.SMTPConnectError) as refused:
        smtplib.SMTP("127.0.0.1", mail.smtp_port, timeout=5)
    assert refused.value.smtp_code == 421
    mail.faults.clear()
    send(mail)


def test_imap_auth_refuses_the_probe_login(mail):
    fault(mail, "imap-auth")
    with IMAPClient("127.0.0.1", port=mail.imap_port, ssl=False, timeout=5) as client:
        with pytest.raises(LoginError, match="AUTHENTICATIONFAILED"):
            client.login(PROBE_USER, PROBE_PASSWORD)


def test_bad_smtp_password_is_535(mail):
    with pytest.raises(smtplib.SMTPAuthenticationError) as refused:
        send(mail, password="wrong")
    assert refused.value.smtp_code == 535
    assert mail.messages() == []


def test_sending_needs_auth_and_a_known_recipient(mail):
    with smtplib.SMTP("127.0.0.1", mail.smtp_port, timeout=5) as smtp:
        with pytest.raises(smtplib.SMTPSenderRefused) as refused:
            smtp.sendmail(PROBE, [SUPPORT], b"Subject: no auth\r\n\r\nhi\r\n")
        assert refused.value.smtp_code == 530
        smtp.login(PROBE_USER, PROBE_PASSWORD)
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            smtp.sendmail(PROBE, ["nobody@help.example.test"], b"Subject: unknown\r\n\r\nhi\r\n")


def test_imap_login_may_differ_from_smtp():
    box = MailSandbox(Switchboard(), PROBE_USER, PROBE_PASSWORD, PROBE, SUPPORT,
                      imap_user="probe-imap", imap_password="imap-secret")
    with serving(box), IMAPClient("127.0.0.1", port=box.imap_port, ssl=False, timeout=5) as client:
        client.login("probe-imap", "imap-secret")
