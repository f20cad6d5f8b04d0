"""The sandbox's IMAP server: pymap's in-memory `dict` backend, embedded in the sandbox's own loop.

pymap is normally run as a command (`pymap dict ...`) that parses arguments and owns the loop. Here
its parts are put together directly (config, login, `IMAPServer` behind `asyncio.start_server`)
so the server binds 127.0.0.1:0 inside a loop that is already running, and the auto-responder can
append to the probe mailbox's INBOX from Python. Appending sets the mailbox's update event, so a
client in IDLE hears `* N EXISTS` at once, as from a real mail store.
"""

from __future__ import annotations

import asyncio
import json
from argparse import Namespace
from datetime import datetime, timezone
from typing import Any

from proxyprotocol.reader import ProxyProtocolReader
from proxyprotocol.sock import SocketInfo
from pymap.backend.dict import Config, Identity, Login
from pymap.backend.dict.filter import FilterSet
from pymap.backend.dict.mailbox import MailboxSet
from pymap.concurrent import Subsystem
from pymap.exceptions import InvalidAuth
from pymap.imap import IMAPServer
from pymap.parsing.message import AppendMessage
from pymap.user import UserMetadata
from pysasl import SASLAuth
from pysasl.creds.external import ExternalCredentials, ExternalVerificationRequired
from pysasl.creds.server import ServerCredentials
from pysasl.hashing import Cleartext
from pysasl.mechanism import ServerChallenge
from pysasl.mechanism.login import LoginMechanism
from pysasl.mechanism.oauth import OAuth2Mechanism
from pysasl.mechanism.plain import PlainMechanism

from allclear.sandbox.faults import Switchboard
from allclear.sandbox.mail_tokens import MailboxProvider


class _SandboxConfig(Config):
    provider: MailboxProvider | None = None

    @property
    def greeting(self) -> bytes:
        # pymap's own greeting calls socket.getfqdn() on every connection: a DNS lookup that can
        # stall for seconds on a machine without a resolver.
        return b"Sandbox IMAP ready"

    @property
    def tls_auth(self) -> SASLAuth:
        mechanisms: list = [PlainMechanism(), LoginMechanism()]
        if self.provider is not None:
            mechanisms.append(_XOAuth2(self.provider))
        return SASLAuth(mechanisms)


class _XOAuth2(OAuth2Mechanism):
    """XOAUTH2 as Google documents it: a bad token gets a continuation carrying the error as JSON; the
    client answers empty and the command fails (`NO [AUTHENTICATIONFAILED]`)."""

    def __init__(self, provider: MailboxProvider):
        super().__init__()
        self._provider = provider

    def server_attempt(self, responses):
        creds, final = super().server_attempt(responses[:1])
        if len(responses) == 1 and self._provider.refusal(creds.authzid, bearer(creds), "IMAP") is not None:
            raise ServerChallenge(json.dumps({"status": "401", "schemes": "bearer",
                                              "scope": "https://outlook.office365.com/.default"}).encode())
        return creds, final


def bearer(credentials: ExternalCredentials) -> str:
    """The token an XOAUTH2 login carried (pysasl hands it over only by the exception it raises)."""
    try:
        credentials.verify(None)
    except ExternalVerificationRequired as exc:
        return exc.token or ""
    return ""


class _SandboxLogin(Login):
    """pymap's login, but the `imap-auth` fault refuses the probe mailbox, as a locked account would."""

    def __init__(self, config: Config, faults: Switchboard, probe_user: str):
        super().__init__(config)
        self._faults = faults
        self._probe_user = probe_user

    async def authenticate(self, credentials: ServerCredentials) -> Identity:
        if isinstance(credentials, ExternalCredentials):        # XOAUTH2: the token decides
            provider = self.config.provider
            if provider is None or provider.refusal(credentials.authzid, bearer(credentials), "IMAP"):
                raise InvalidAuth()
            return Identity(self._probe_user, self, None, set())
        if self._faults.active("imap-auth") and credentials.authcid == self._probe_user:
            raise InvalidAuth()  # NO [AUTHENTICATIONFAILED], what clients see for a wrong password
        return await super().authenticate(credentials)


class ImapServer:
    """One mailbox (the probe's) served over plain IMAP on loopback, with IDLE."""

    def __init__(self, faults: Switchboard, user: str, password: str, provider: MailboxProvider | None = None):
        self._faults = faults
        self._provider = provider
        self._user = user
        self._password = password
        self._inbox_set: MailboxSet | None = None
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[Any]] = set()
        self.port = 0

    async def start(self) -> int:
        """Bind 127.0.0.1 on an ephemeral port and return it."""
        config = _SandboxConfig(
            Namespace(passlib_cfg=None, proxy_protocol=None),
            host="127.0.0.1", port=0,
            demo_data=False, demo_user=self._user, demo_password=self._password,
            tls_enabled=False,  # loopback: LOGIN in the clear, no STARTTLS offered
            reject_dnsbl=False,
            hash_context=Cleartext(),  # the default hash costs ~0.3 s of CPU per login
            cpu_subsystem=Subsystem.for_asyncio(),  # no thread pool of pymap's own
            invalid_user_sleep=0.1,
        )
        config.provider = self._provider
        login = _SandboxLogin(config, self._faults, self._user)
        login.users_dict[self._user] = UserMetadata(config, self._user, password=self._password)
        # pymap makes a user's mailboxes at their first login; made now, mail can arrive before that.
        self._inbox_set = MailboxSet()
        config.set_cache[self._user] = (self._inbox_set, FilterSet())
        imap_server = IMAPServer(login, config)

        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, sock_info: SocketInfo) -> None:
            task = asyncio.current_task()
            assert task is not None
            self._connections.add(task)
            try:
                await imap_server(reader, writer, sock_info)
            finally:
                self._connections.discard(task)

        callback = ProxyProtocolReader(config.proxy_protocol).get_callback(serve)
        self._server = await asyncio.start_server(callback, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def deliver(self, message: bytes) -> None:
        """Append a message (CRLF line endings) to the INBOX as new mail: unseen and \\Recent."""
        assert self._inbox_set is not None, "the IMAP server is not started"
        inbox = await self._inbox_set.get_mailbox("INBOX")
        await inbox.append(AppendMessage(message, datetime.now(timezone.utc)), recent=True)

    async def stop(self) -> None:
        """Stop listening and end open sessions; pymap tells each client `* BYE` as it goes."""
        if self._server is None:
            return
        self._server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        await self._server.wait_closed()
        self._server = None
