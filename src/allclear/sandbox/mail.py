"""The sandbox's mail: an SMTP server for the probe mailbox, IMAP for its INBOX, and the support autoreply.

The email check sends from the probe mailbox to the platform's support address and waits for the
platform's auto-reply in the probe mailbox. Here one SMTP server (aiosmtpd) plays both the probe's
submission server (AUTH with the probe's login) and the support address's MX; an auto-responder
answers each message to the support address after a short delay, as the platform's ticketing does,
and drops the answer into the probe's INBOX on the IMAP server (pymap, see mail_imap.py).

The servers log in the probe mailbox as the target's `[email]` says: SMTP with AUTH PLAIN/LOGIN, or as
a relay that offers no AUTH at all (`smtp_auth = "none"`, or the fault `smtp-no-auth`); both servers
take XOAUTH2 with a token from the sandbox's mailbox provider (mail_tokens.py).

Faults are read live: `smtp-down`, `smtp-silent` and `smtp-no-auth` per connection, `mail-blackhole` and
`mail-slow` per message, `imap-auth` per login.
"""

from __future__ import annotations

import asyncio
import base64
import email
import email.policy
import json
import secrets
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from typing import Any

from aiohttp import web
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from allclear.sandbox.conversations import CONVERSATIONS, record_inbound_email
from allclear.sandbox.faults import Switchboard
from allclear.sandbox.mail_imap import ImapServer
from allclear.sandbox.mail_tokens import PROVIDER, MailboxProvider
from allclear.sandbox.parts import FaultKinds, PartSetup

FAULTS: FaultKinds = {
    "mail-blackhole": (None, "the support mailbox never replies"),
    "mail-slow": (float, "the support mailbox replies after SECONDS"),
    "smtp-down": (None, "the SMTP server refuses connections"),
    "smtp-silent": (None, "the SMTP server accepts connections and never says a word"),
    "smtp-no-auth": (None, "the SMTP server is a relay that offers no login (AUTH) and takes mail from inside"),
    "imap-auth": (None, "the IMAP server refuses the probe mailbox's login"),
}
ORDER = 50

REPLY_DELAY = 0.3
REPLY_BODY = "Thanks for contacting Sandbox Support \u2014 we received your message.\n"


@dataclass
class ReceivedMail:
    """A message the SMTP server accepted, and the support mailbox's answer once it is sent."""

    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    received_at: float  # time.time()
    reply: EmailMessage | None = None
    reply_delivered: bool = False  # True when the reply went into the probe mailbox's INBOX


class _ServiceUnavailable(asyncio.Protocol):
    """`smtp-down`: greet with 421 and hang up, as a mail server shut for maintenance does (RFC 5321 3.1)."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.WriteTransport)
        transport.write(b"421 4.3.2 Service not available, closing transmission channel\r\n")
        transport.close()


class _Silent(asyncio.Protocol):
    """`smtp-silent`: accept the connection and never say a word (a wedged server, a stuck proxy)."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport     # held open until the client gives up or the sandbox stops


class MailSandbox:
    """SMTP and IMAP on ephemeral loopback ports, with the support address auto-replying.

    `start()` and `stop()` run in the sandbox's own (already running) loop; `messages()` may be
    called from any thread. The probe's IMAP login is its SMTP login unless given apart, as a
    target's `[email]` section may (`smtp_user` / `imap_user`).
    """

    def __init__(self, faults: Switchboard, probe_user: str, probe_password: str, probe_address: str,
                 support_address: str, *, imap_user: str | None = None, imap_password: str | None = None,
                 relay: bool = False, provider: MailboxProvider | None = None):
        self.faults = faults
        self.relay = relay               # no AUTH offered; mail taken from anyone on loopback, as a company relay
        self.provider = provider
        self.probe_user = probe_user
        self.probe_password = probe_password
        self.probe_address = probe_address
        self.support_address = support_address
        self.smtp_port = 0
        self.imap_port = 0
        self._domain = support_address.rpartition("@")[2] or "sandbox.localhost"
        self._imap = ImapServer(faults, imap_user or probe_user,
                                imap_password if imap_password is not None else probe_password, provider)
        self._smtp_server: asyncio.Server | None = None
        self._smtp_sessions: set[SMTP] = set()
        self._replies: set[asyncio.Task[None]] = set()
        self._received: list[ReceivedMail] = []
        self.reply_subject = ""   # when set, replies use it instead of "Re: <subject>", as some helpdesks do
        self.on_support_mail: Callable[[ReceivedMail], None] | None = None   # the platform takes it in

    async def start(self) -> None:
        self.imap_port = await self._imap.start()
        loop = asyncio.get_running_loop()
        self._smtp_server = await loop.create_server(self._smtp_protocol, "127.0.0.1", 0)
        self.smtp_port = self._smtp_server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        for task in list(self._replies):
            task.cancel()
        await asyncio.gather(*self._replies, return_exceptions=True)
        if self._smtp_server is not None:
            self._smtp_server.close()
            for session in list(self._smtp_sessions):
                if session.transport is not None:
                    session.transport.close()
            await self._smtp_server.wait_closed()
            self._smtp_server = None
        await self._imap.stop()

    def messages(self) -> list[ReceivedMail]:
        """Everything the SMTP server accepted, oldest first."""
        return list(self._received)

    # SMTP

    def _smtp_protocol(self) -> asyncio.BaseProtocol:
        if self.faults.active("smtp-down"):
            return _ServiceUnavailable()
        if self.faults.active("smtp-silent"):
            return _Silent()
        relay = self.relay or self.faults.active("smtp-no-auth")
        # A relay offers no AUTH: aiosmtpd leaves AUTH out of EHLO when it requires TLS and has none.
        session = _SmtpSession(self, hostname=f"mx.{self._domain}", ident="Sandbox ESMTP",
                               authenticator=self._authenticate, auth_require_tls=relay,
                               auth_exclude_mechanism=[] if self.provider else ["XOAUTH2"],
                               loop=asyncio.get_running_loop())
        session.relay = relay
        self._smtp_sessions.add(session)
        return session

    def _authenticate(self, server: SMTP, session: Session, envelope: Envelope, mechanism: str,
                      auth_data: Any) -> AuthResult:
        """AUTH PLAIN/LOGIN with the probe mailbox's login; anything else gets aiosmtpd's `535 5.7.8`."""
        ok = (isinstance(auth_data, LoginPassword)
              and secrets.compare_digest(auth_data.login, self.probe_user.encode())
              and secrets.compare_digest(auth_data.password, self.probe_password.encode()))
        # handled=False: aiosmtpd's default (True) means "the 535 was sent already" and leaves the client hanging.
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

    async def auth_XOAUTH2(self, server: SMTP, args: list[str]) -> AuthResult:
        """XOAUTH2 as Google documents it: on a bad token, a 334 challenge carrying the error as JSON,
        the client's empty answer, then 535 (Microsoft's words)."""
        if len(args) > 1:
            response: bytes | object = base64.b64decode(args[1] + "=" * (-len(args[1]) % 4))
        else:
            response = await server.challenge_auth("")
        if not isinstance(response, bytes):
            return AuthResult(success=False, handled=True)
        user, _, rest = response.decode("utf-8", "replace").partition("\x01auth=Bearer ")
        token = rest.split("\x01")[0]
        user = user.removeprefix("user=")
        refusal = self.provider.refusal(user, token, "SMTP") if self.provider else "no tokens here"
        if refusal is None:
            return AuthResult(success=True, auth_data=LoginPassword(user.encode(), b""))
        await server.challenge_auth(json.dumps({"status": "401", "schemes": "bearer",
                                                "scope": "https://outlook.office365.com/.default"}))
        return AuthResult(success=False, handled=False,
                          message=f"535 5.7.3 Authentication unsuccessful [{refusal}]")

    async def handle_MAIL(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          mail_options: list[str]) -> str:
        # A submission server: only the probe mailbox, logged in, may send (checked here rather than
        # with aiosmtpd's auth_required, which warns on every connection without TLS). A relay takes
        # mail from inside the network without a login.
        if not session.authenticated and not getattr(server, "relay", False):  # noqa: B009 - an SMTP here is a _SmtpSession
            return "530 5.7.0 Authentication required"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:
        if address.lower() not in {self.support_address.lower(), self.probe_address.lower()}:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.content if isinstance(envelope.content, bytes) else str(envelope.content).encode()
        message = email.message_from_bytes(content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        mail = ReceivedMail(str(envelope.mail_from), list(envelope.rcpt_tos), message, time.time())
        self._received.append(mail)
        recipients = {rcpt.lower() for rcpt in envelope.rcpt_tos}
        if self.probe_address.lower() in recipients:
            await self._imap.deliver(_crlf_bytes(message))
        if self.support_address.lower() in recipients and self.on_support_mail is not None:
            self.on_support_mail(mail)
        if self.support_address.lower() in recipients and not self.faults.active("mail-blackhole"):
            delay = float(self.faults.arg("mail-slow", REPLY_DELAY)) if self.faults.active("mail-slow") \
                else REPLY_DELAY
            task = asyncio.create_task(self._auto_reply(mail, delay))
            self._replies.add(task)
            task.add_done_callback(self._replies.discard)
        return "250 2.0.0 OK: queued"

    # The support mailbox

    async def _auto_reply(self, mail: ReceivedMail, delay: float) -> None:
        await asyncio.sleep(delay)
        reply = self._reply_to(mail)
        mail.reply = reply
        if parseaddr(str(reply["To"]))[1].lower() == self.probe_address.lower():
            await self._imap.deliver(_crlf_bytes(reply))
            mail.reply_delivered = True

    def _reply_to(self, mail: ReceivedMail) -> EmailMessage:
        """The platform's acknowledgement, threaded under the original (RFC 5322 3.6.4, RFC 3834)."""
        original = mail.message
        sender = parseaddr(str(original.get("Reply-To") or original.get("From") or ""))[1] or mail.mail_from
        reply = EmailMessage()
        reply["From"] = f"Sandbox Support <{self.support_address}>"
        reply["To"] = sender
        reply["Subject"] = self.reply_subject or f"Re: {original.get('Subject', '')}"
        reply["Date"] = format_datetime(datetime.now(timezone.utc))
        reply["Message-ID"] = make_msgid(domain=self._domain)
        original_id = str(original.get("Message-ID") or "").strip()
        if original_id:
            reply["In-Reply-To"] = original_id
            reply["References"] = " ".join([*str(original.get("References") or "").split(), original_id])
        reply["Auto-Submitted"] = "auto-replied"
        reply.set_content(REPLY_BODY)
        return reply


class _SmtpSession(SMTP):
    """aiosmtpd's protocol for one connection; the MailSandbox itself is the handler with the hooks."""

    relay = False        # this connection is to a relay: no AUTH offered, mail taken without a login

    def __init__(self, sandbox: MailSandbox, **kwargs: Any):
        super().__init__(sandbox, **kwargs)
        self._sandbox = sandbox
        self.command_size_limits["AUTH"] = 12288     # RFC 4954 section 4: an XOAUTH2 line carries a whole token

    def _create_session(self) -> Session:
        return _QuietSession(self.loop)

    def connection_lost(self, error: Exception | None) -> None:
        self._sandbox._smtp_sessions.discard(self)
        super().connection_lost(error)


class _QuietSession(Session):
    """aiosmtpd 1.4 itself sets the deprecated `login_data` on every AUTH, then logs a warning about it."""

    @property
    def login_data(self) -> Any:
        return self._login_data

    @login_data.setter
    def login_data(self, value: Any) -> None:
        self._login_data = value


MAIL: web.AppKey[MailSandbox] = web.AppKey("mail_sandbox", MailSandbox)


def setup(app: web.Application, sandbox: PartSetup) -> None:
    """Mail servers for the target's `[email]` section, if it has one enabled, while the sandbox runs."""
    email = sandbox.target.email
    if not (email and email.enabled):
        return

    async def serving(app: web.Application) -> AsyncIterator[None]:
        smtp_password = sandbox.secret(email.smtp_password_env) if email.smtp_password_env else ""
        imap_password = sandbox.secret(email.imap_password_env) if email.imap_password_env else ""
        app[MAIL] = mail = MailSandbox(sandbox.faults, email.smtp_login, smtp_password or secrets.token_urlsafe(18),
                                       email.probe_address, email.support_address, imap_user=email.imap_user,
                                       imap_password=imap_password or secrets.token_urlsafe(18),
                                       relay=email.smtp_auth == "none", provider=app.get(PROVIDER))
        if CONVERSATIONS in app:
            mail.on_support_mail = lambda received: record_inbound_email(
                app, received.mail_from, email.support_address, str(received.message.get("Subject", "")),
                _text_of(received.message), str(received.message.get("Message-ID", "")))
        await mail.start()
        yield
        await mail.stop()

    app.cleanup_ctx.append(serving)


def addresses(app: web.Application) -> dict[str, str | int]:
    mail = app.get(MAIL)
    return {"sandbox_smtp_port": mail.smtp_port if mail else 0, "sandbox_imap_port": mail.imap_port if mail else 0}


def _text_of(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain", "html"))
    return body.get_content() if body is not None else ""


def _crlf_bytes(message: EmailMessage) -> bytes:
    """IMAP serves messages with CRLF line endings; the email package writes bare LF by default.

    Lines may run to RFC 5322's 998: folding a long In-Reply-To would make the email package encode
    it (RFC 2047), which no mail server does to a message id.
    """
    return message.as_bytes(policy=message.policy.clone(linesep="\r\n", max_line_length=998))
