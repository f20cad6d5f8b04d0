"""Email round-trip probe: send from the probe mailbox over SMTP, wait for the platform's reply over
IMAP (imapclient; IDLE where the server offers it, polling otherwise), then clean up.

The probe mailbox is ours: if its SMTP or IMAP server refuses us, that is a ProbeError (the item is
inconclusive), never a failure of the platform. A reply that does not come is the platform's.
Each server logs in its own way (`smtp_auth`, `imap_auth`): not at all (a relay), with a password
(only to a server that offers AUTH), or with an OAuth2 access token over XOAUTH2 (probes/oauth2.py).
"""

from __future__ import annotations

import contextlib
import imaplib
import smtplib
import socket
import ssl
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

import httpx
import imapclient
from imapclient.exceptions import IMAPClientError, LoginError

from allclear.items.email import EmailCheck
from allclear.probes.errors import ProbeError, one_line
from allclear.probes.oauth2 import AccessToken, MailboxTokens, xoauth2
from allclear.probes.steps import StepLog


class ProbeMailboxError(ProbeError):
    """The probe mailbox's own SMTP or IMAP server could not be used."""


@dataclass
class SentProbe:
    token: str
    message_id: str
    subject: str
    sender: str
    recipient: str
    sent_at: datetime


@dataclass
class ReplyObservation:
    sent: SentProbe
    reply_found: bool = False
    reply_at: datetime | None = None
    round_trip_s: float | None = None
    reply_from: str = ""
    reply_subject: str = ""
    reply_message_id: str = ""
    matched_by: str = ""
    waited_with: str = ""          # IDLE or polling
    stopped: bool = False          # the wait was ended early: the reply was not required
    checks: int = 0
    cleaned_up: int = 0
    problem: str = ""
    notes: list[str] = field(default_factory=list)
    steps: StepLog = field(default_factory=StepLog)


def _context(host: str) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if host in ("127.0.0.1", "localhost", "::1"):
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _smtp_trouble(error: BaseException, timeout_s: float) -> str:
    """smtplib's errors in words: its own messages are tuples and half-parsed lines."""
    if isinstance(error, smtplib.SMTPConnectError) and error.smtp_code == -1:
        said = error.smtp_error.decode("utf-8", "replace") if isinstance(error.smtp_error, bytes) else error.smtp_error
        return f"it does not speak SMTP (its greeting, after the first 4 characters: {said.strip()[:60]!r})"
    if isinstance(error, smtplib.SMTPResponseException):
        said = error.smtp_error.decode("utf-8", "replace") if isinstance(error.smtp_error, bytes) else error.smtp_error
        return f"it answered {error.smtp_code} {said.strip()[:120]}"
    if isinstance(error, smtplib.SMTPServerDisconnected) and "timed out" in str(error):
        return f"it accepted the connection but said nothing within {timeout_s:g} s"
    return one_line(error)


def _imap_trouble(error: BaseException) -> str:
    text = one_line(error)
    if "unexpected response" in text or "greeting" in text.lower() or "Unsupported IMAP" in text:
        return f"it does not speak IMAP ({text[:120]})"
    return text


class ProbeMailbox:
    """The probe mailbox: `secrets` holds the values of the `*_env` names its settings use."""

    def __init__(self, settings: EmailCheck, secrets: Mapping[str, str],
                 clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
                 token_transport: httpx.BaseTransport | None = None):
        self.settings, self.clock = settings, clock
        self._secrets = secrets
        self._tokens = MailboxTokens(settings.oauth2, secrets, settings.imap_user, token_transport) \
            if settings.oauth2 else None
        self.steps = StepLog()        # the probe's steps, sending included; its ReplyObservation keeps them

    def send(self) -> SentProbe:
        with self.steps(f"Send the test email to {self.settings.support_address} from {self.settings.probe_address}"):
            return self._send()

    def _send(self) -> SentProbe:
        s = self.settings
        token = f"allclear-{uuid.uuid4().hex[:12]}"
        message = EmailMessage()
        message["From"] = s.probe_address
        message["To"] = s.support_address
        message["Subject"] = f"allclear post-maintenance email check {token}"
        message["Message-ID"] = make_msgid(idstring=token, domain=s.probe_address.split("@")[-1])
        message["Date"] = format_datetime(self.clock())
        message.set_content(f"Automated check after a maintenance window; a reply is expected.\nToken: {token}\n")
        try:
            smtp_class = smtplib.SMTP_SSL if s.smtp_security == "ssl" else smtplib.SMTP
            extra = {"context": _context(s.smtp_host)} if s.smtp_security == "ssl" else {}
            with smtp_class(s.smtp_host, s.smtp_port, timeout=s.connect_timeout_s, **extra) as smtp:
                if s.smtp_security == "starttls":
                    smtp.starttls(context=_context(s.smtp_host))
                self._smtp_log_in(smtp)
                smtp.send_message(message)
        except smtplib.SMTPSenderRefused as exc:
            if s.smtp_auth == "none" and exc.smtp_code == 530:
                raise ProbeMailboxError(f"the SMTP server {s.smtp_host}:{s.smtp_port} wants a login "
                                        f"({_smtp_trouble(exc, 0)}): set smtp_auth to \"password\" or "
                                        "\"oauth2\"") from None
            raise ProbeMailboxError(f"could not send through the probe mailbox's SMTP server {s.smtp_host}:"
                                    f"{s.smtp_port}: {_smtp_trouble(exc, s.connect_timeout_s)}") from None
        except (OSError, smtplib.SMTPException) as exc:
            raise ProbeMailboxError(f"could not send through the probe mailbox's SMTP server {s.smtp_host}:"
                                    f"{s.smtp_port}: {_smtp_trouble(exc, s.connect_timeout_s)}") from None
        return SentProbe(token=token, message_id=message["Message-ID"], subject=message["Subject"],
                         sender=s.probe_address, recipient=s.support_address, sent_at=self.clock())

    def _smtp_log_in(self, smtp: smtplib.SMTP) -> None:
        """Log in as configured; a password only ever goes to a server that offers AUTH."""
        s = self.settings
        if s.smtp_auth == "none":
            return
        smtp.ehlo_or_helo_if_needed()
        if not smtp.has_extn("auth") and smtp.has_extn("starttls") and s.smtp_security == "plain":
            raise ProbeMailboxError(
                f"the SMTP server {s.smtp_host}:{s.smtp_port} offers a login only after STARTTLS, and "
                "smtp_security is \"plain\": set smtp_security = \"starttls\" (nothing was sent)")
        if not smtp.has_extn("auth"):
            raise ProbeMailboxError(
                f"the SMTP server {s.smtp_host}:{s.smtp_port} offers no login (no AUTH in its EHLO), so the "
                f"probe's {'password' if s.smtp_auth == 'password' else 'token'} was not sent: for a relay that "
                "takes mail without a login, set smtp_auth = \"none\"")
        if s.smtp_auth == "password":
            try:
                smtp.login(s.smtp_login, self._secrets[s.smtp_password_env or ""])
            except smtplib.SMTPAuthenticationError as exc:
                raise ProbeMailboxError(f"the probe mailbox's SMTP server refused its login "
                                        f"({_smtp_trouble(exc, 0)})") from None
            return
        offered = smtp.esmtp_features.get("auth", "").upper().split()
        if "XOAUTH2" not in offered:
            raise ProbeMailboxError(f"the SMTP server {s.smtp_host}:{s.smtp_port} takes no OAuth2 token (it offers "
                                    f"AUTH {' '.join(offered) or 'with no mechanism'}, not XOAUTH2): the token was "
                                    "not sent")
        token = self._token()
        said: list[bytes] = []

        def answer(challenge: bytes | None = None) -> str:
            if challenge:               # the provider's error, as a challenge; the client answers empty
                said.append(challenge)
                return ""
            return xoauth2(s.smtp_login, token)

        try:
            smtp.auth("XOAUTH2", answer, initial_response_ok=True)
        except smtplib.SMTPAuthenticationError as exc:
            raise ProbeMailboxError(_token_refused("SMTP", s.smtp_host, _smtp_trouble(exc, 0), said, token)) from None

    def _token(self) -> AccessToken:
        assert self._tokens is not None
        if self._tokens.holds_one:
            return self._tokens.token()
        with self.steps(f"Get the probe mailbox's OAuth2 token ({self._tokens.settings.flow.replace('_', ' ')})"):
            return self._tokens.token()

    def await_reply(self, sent: SentProbe, stop: threading.Event | None = None) -> ReplyObservation:
        """Watch the probe mailbox until the reply comes, the deadline passes or `stop` is set (the
        reply is not required and the platform showed the email arrived).

        An IMAP session that breaks while waiting (a server's IDLE quirk, a dropped connection) is
        opened again, polling from then on; the probe mailbox refusing us outright is a ProbeError.
        """
        seen = ReplyObservation(sent=sent, steps=self.steps)
        with self.steps(f"A reply from {sent.recipient} arrives in the probe mailbox (IMAP)") as step:
            self._await(seen, stop)
            if seen.problem and not seen.stopped:
                step.fail(seen.problem)
        return seen

    def _await(self, seen: ReplyObservation, stop: threading.Event | None) -> None:
        deadline = time.monotonic() + self.settings.reply_deadline_s
        use_idle = True
        for attempt in range(3):
            try:
                self._watch(seen, deadline, use_idle, stop)
                return
            except (imaplib.IMAP4.abort, IMAPClientError, OSError) as exc:
                if attempt == 2:
                    raise ProbeMailboxError(f"the probe mailbox's IMAP session kept breaking: {exc}") from None
                seen.notes.append(f"IMAP session broke while waiting ({exc}); reconnected, polling")
                use_idle = False

    def _watch(self, seen: ReplyObservation, deadline: float, use_idle: bool, stop: threading.Event | None) -> None:
        s, sent = self.settings, seen.sent
        with self._imap() as imap:
            imap.select_folder(s.imap_folder)
            idle = use_idle and b"IDLE" in imap.capabilities()
            seen.waited_with = "IDLE" if idle else f"polling every {s.poll_interval_s:g} s"
            while True:
                seen.checks += 1
                found = self._find_reply(imap, sent)
                if found:
                    uid, envelope_from, subject, message_id, matched_by = found
                    seen.reply_found, seen.reply_at = True, self.clock()
                    seen.round_trip_s = round((seen.reply_at - sent.sent_at).total_seconds(), 2)
                    seen.reply_from, seen.reply_subject = envelope_from, subject
                    seen.reply_message_id, seen.matched_by = message_id, matched_by
                    break
                remaining = deadline - time.monotonic()
                if stop is not None and stop.is_set():
                    seen.problem = f"no reply yet after {seen.checks} check(s); stopped: not required"
                    seen.stopped = True
                    break
                if remaining <= 0:
                    seen.problem = (f"no reply within {s.reply_deadline_s:g} s to {sent.message_id} sent "
                                    f"{sent.sent_at:%H:%M:%S %Z} from {sent.sender} to {sent.recipient}")
                    break
                self._wait(imap, idle, min(remaining, s.poll_interval_s))
            if s.cleanup:
                seen.cleaned_up = self._clean_up(imap, sent)

    @contextlib.contextmanager
    def _imap(self):
        s = self.settings
        token = self._token() if s.imap_auth == "oauth2" else None      # before connecting: nothing left open
        try:
            imap = imapclient.IMAPClient(s.imap_host, port=s.imap_port, ssl=s.imap_security == "ssl",
                                         ssl_context=_context(s.imap_host), timeout=s.connect_timeout_s)
            if s.imap_security == "starttls":
                imap.starttls(_context(s.imap_host))
        except (OSError, IMAPClientError, imaplib.IMAP4.error) as exc:
            raise ProbeMailboxError(f"could not reach the probe mailbox over IMAP {s.imap_host}:{s.imap_port}: "
                                    f"{_imap_trouble(exc)}") from None
        try:
            if token is not None:
                imap.oauth2_login(s.imap_user, token.value)
            else:
                imap.login(s.imap_user, self._secrets[s.imap_password_env or ""])
        except LoginError as exc:
            with contextlib.suppress(OSError):
                imap.shutdown()
            if token is not None:
                raise ProbeMailboxError(_token_refused("IMAP", s.imap_host, one_line(exc), [], token)) from None
            raise ProbeMailboxError(f"the probe mailbox's IMAP server refused its login: {exc}") from None
        except (OSError, IMAPClientError, imaplib.IMAP4.error) as exc:
            with contextlib.suppress(OSError):
                imap.shutdown()
            raise ProbeMailboxError(f"could not reach the probe mailbox over IMAP {s.imap_host}:{s.imap_port}: "
                                    f"{_imap_trouble(exc)}") from None
        try:
            yield imap
        finally:
            with contextlib.suppress(Exception):
                imap.logout()

    def _find_reply(self, imap: imapclient.IMAPClient, sent: SentProbe):
        """A reply carries our token in its subject or our Message-ID in In-Reply-To / References
        (a helpdesk may rewrite the subject; threading headers survive)."""
        uids = _probe_uids(imap, sent)
        if not uids:
            return None
        fetched = imap.fetch(uids, ["BODY.PEEK[HEADER.FIELDS (FROM SUBJECT MESSAGE-ID IN-REPLY-TO REFERENCES)]"])
        for uid, data in fetched.items():
            headers = next(v for k, v in data.items() if k.startswith(b"BODY")).decode("utf-8", "replace")
            fields = _header_fields(headers)
            if fields.get("message-id") == sent.message_id:
                continue  # our own message (a provider that files the sent copy in the inbox)
            threading = fields.get("in-reply-to", "") + fields.get("references", "")
            in_reply = sent.message_id in threading
            return (uid, fields.get("from", ""), fields.get("subject", ""), fields.get("message-id", ""),
                    "In-Reply-To" if in_reply else "token in the subject")
        return None

    def _wait(self, imap: imapclient.IMAPClient, idle: bool, seconds: float) -> None:
        if not idle:
            time.sleep(seconds)
            return
        imap.idle()
        try:
            imap.idle_check(timeout=max(seconds, 0.1))
        finally:
            imap.idle_done()

    def _clean_up(self, imap: imapclient.IMAPClient, sent: SentProbe) -> int:
        """Delete every message of this probe (the reply, and our own copy if one was filed)."""
        with contextlib.suppress(IMAPClientError, OSError, socket.timeout):
            uids = _probe_uids(imap, sent)
            if uids:
                imap.delete_messages(uids)
                imap.expunge()
            return len(uids)
        return 0


def _token_refused(protocol: str, host: str, answer: str, challenges: list[bytes], token: AccessToken) -> str:
    """A mail server's refusal of our token says little: add what the provider's challenge and the
    token itself tell (audience, permissions, expiry), never the token."""
    words = [f"the probe mailbox's {protocol} server {host} refused its OAuth2 token ({answer})"]
    for challenge in challenges:
        words.append(f"it said {challenge.decode('utf-8', 'replace').strip()}")
    words.append(f"the token: {token.described()}")
    return "; ".join(words)


def _probe_uids(imap: imapclient.IMAPClient, sent: SentProbe) -> list[int]:
    by_token = imap.search(["SUBJECT", sent.token])
    by_thread = imap.search(["HEADER", "In-Reply-To", sent.message_id])
    return sorted(set(by_token) | set(by_thread))


def _header_fields(raw: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    name = ""
    for line in raw.splitlines():
        if line[:1] in (" ", "\t") and name:
            fields[name] += " " + line.strip()
        elif ":" in line:
            name, _, value = line.partition(":")
            name = name.strip().lower()
            fields[name] = value.strip()
    return fields
