"""Run the sandbox platform on 127.0.0.1 in a background thread, for one session or on its own.

The sandbox takes its accounts from the target file (the agents and the API user it lists) and
makes up their secrets: each secret environment variable the target names is set to a fresh
random value unless it is set already, so the checks read secrets the same way as on a real target.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import tempfile
import threading
from collections.abc import MutableMapping
from datetime import datetime, timezone
from pathlib import Path

from aiohttp import web

from allclear.config import Target
from allclear.sandbox import chat_widget, desk, help_center, platform, reporting_api, statuspage, tls, voice
from allclear.sandbox.dns import start_dns
from allclear.sandbox.faults import FaultError, Switchboard, parse_fault
from allclear.sandbox.mail import MailSandbox
from allclear.sandbox.platform import STATE, AgentAccount, PlatformState


async def get_faults(request: web.Request) -> web.Response:
    return web.json_response({"faults": request.app[STATE].faults.describe()})


async def set_faults(request: web.Request) -> web.Response:
    """`POST /_sandbox/faults {"faults": ["agents-locked:3"]}` replaces the faults switched on."""
    body = await request.json()
    try:
        faults = [parse_fault(spec) for spec in body.get("faults", [])]
    except FaultError as exc:
        return web.json_response({"error": str(exc)}, status=400)
    switchboard = request.app[STATE].faults
    switchboard.replace(faults)
    return web.json_response({"faults": switchboard.describe()})


async def get_agents(request: web.Request) -> web.Response:
    agents = request.app[STATE].agents.values()
    return web.json_response([{"email": a.email, "status": a.status, "logins": a.logins} for a in agents])


def build_app(state: PlatformState, voice_state: voice.VoiceState | None = None,
              chat_state: chat_widget.ChatState | None = None, ticket_desk: desk.Desk | None = None) -> web.Application:
    # Up to Zendesk's own upload limit (50 MB): the desk takes the HTML report as an attachment.
    app = web.Application(middlewares=[platform.maintenance_middleware, desk.desk_down], client_max_size=50 * 2**20)
    app[STATE] = state
    app[desk.DESK] = ticket_desk or desk.Desk(desk.DeskAccounts())
    desk.add_routes(app)
    app[statuspage.STARTED_AT] = datetime.now(timezone.utc)
    platform.add_routes(app)
    reporting_api.add_routes(app)
    statuspage.add_routes(app)
    app[voice.VOICE] = voice_state or voice.VoiceState()
    voice.add_routes(app)
    app[chat_widget.CHAT] = chat_state or chat_widget.ChatState()
    chat_widget.add_routes(app)
    help_center.add_routes(app)
    app.router.add_get("/_sandbox/faults", get_faults)
    app.router.add_post("/_sandbox/faults", set_faults)
    app.router.add_get("/_sandbox/agents", get_agents)
    return app


def made_up_secret(environ: MutableMapping[str, str], env_name: str) -> str:
    """The secret the target names, made up (and exported) when it is not set already."""
    if not environ.get(env_name):
        environ[env_name] = secrets.token_urlsafe(18)
    return environ[env_name]


def state_for(target: Target, faults: list[str], environ: MutableMapping[str, str]) -> PlatformState:
    def secret(env_name: str) -> str:
        return made_up_secret(environ, env_name)

    agents = {
        agent.email: AgentAccount(email=agent.email, password=secret(agent.password_env),
                                  name=agent.email.split("@")[0].replace(".", " ").title())
        for agent in target.agents
    }
    api = target.reporting_api
    return PlatformState(
        faults=Switchboard([parse_fault(spec) for spec in faults]),
        agents=agents,
        api_user=api.user if api else "",
        api_token=secret(api.token_env) if api else "",
    )


def desk_accounts(target: Target, environ: MutableMapping[str, str]) -> desk.DeskAccounts:
    """The ticket desk accepts what the target's own sinks will present (secrets made up like the rest)."""
    accounts = desk.DeskAccounts()
    for sink in target.escalation.sinks:
        if sink.type == "pagerduty":
            accounts.routing_keys.add(made_up_secret(environ, sink.routing_key_env))
        elif sink.type == "zendesk":
            accounts.zendesk[f"{sink.user}/token"] = made_up_secret(environ, sink.api_token_env)
        elif sink.type == "webhook" and sink.secret_env:
            accounts.webhook_secrets.add(made_up_secret(environ, sink.secret_env))
    return accounts


class Sandbox:
    """The embedded platform, serving on an ephemeral loopback port until `stop()`.

    `desk_file` keeps the ticket desk's alerts and tickets between runs (a JSON file under reports/).
    """

    def __init__(self, target: Target, faults: list[str] | None = None, port: int = 0,
                 environ: MutableMapping[str, str] | None = None, desk_file: Path | None = None):
        all_faults = [*(target.sandbox.faults if target.sandbox else []), *(faults or [])]
        self.environ = os.environ if environ is None else environ
        self.target = target
        self.state = state_for(target, all_faults, self.environ)
        self.mail: MailSandbox | None = None
        lines = target.voice if target.voice and target.voice.enabled else None
        self.voice = voice.VoiceState(
            account_sid=lines.account_sid, auth_token=made_up_secret(self.environ, lines.auth_token_env),
            owned_numbers=[lines.from_number], support_lines=[line.number for line in lines.lines],
        ) if lines else voice.VoiceState()
        # The chat widget is open in the target's business hours; tests may set `self.chat.clock`.
        self.chat = chat_widget.ChatState(business_hours=target.business_hours)
        self.desk = desk.Desk(desk_accounts(target, self.environ), desk_file)
        self._port = port
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread = threading.Thread(target=self._serve, name="allclear-sandbox", daemon=True)
        self._error: BaseException | None = None
        self.url = ""
        self.dns_port = 0
        self.https_url = ""
        self.ca_file: Path | None = None   # the self-signed certificate of https_url: a CA bundle to trust
        self._tls_dir: Path | None = None

    def start(self) -> "Sandbox":
        self._thread.start()
        self._ready.wait(timeout=15)
        if self._error or not self.url:
            raise RuntimeError(f"the sandbox did not start: {self._error or 'timed out'}")
        return self

    def _serve(self) -> None:
        self._loop = asyncio.new_event_loop()
        try:
            self._loop.run_until_complete(self._start_site())
        except BaseException as exc:  # reported by start()
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        self._loop.run_forever()

    async def _start_site(self) -> None:
        self._runner = web.AppRunner(build_app(self.state, self.voice, self.chat, self.desk), access_log=None,
                                     shutdown_timeout=1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self._port)
        await site.start()
        port = self._runner.addresses[0][1]
        # The same app over HTTPS too, so the help-center check has a certificate to read.
        self._tls_dir = Path(tempfile.mkdtemp(prefix="allclear-sandbox-tls-"))
        certificate = tls.self_signed(self._tls_dir)
        await web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=certificate.server_context()).start()
        self.https_url = f"https://127.0.0.1:{self._runner.addresses[-1][1]}"
        self.ca_file = certificate.cert_file
        self._dns_transport, self.dns_port = await start_dns(self.state.faults)
        email = self.target.email
        if email and email.enabled:
            self.mail = MailSandbox(self.state.faults, email.smtp_user,
                                    made_up_secret(self.environ, email.smtp_password_env),
                                    email.probe_address, email.support_address, imap_user=email.imap_user,
                                    imap_password=made_up_secret(self.environ, email.imap_password_env))
            await self.mail.start()
        self.url = f"http://127.0.0.1:{port}"

    async def _shutdown(self) -> None:
        if self.mail:
            await self.mail.stop()
        self._dns_transport.close()
        await self._runner.cleanup()
        if self._tls_dir:
            shutil.rmtree(self._tls_dir, ignore_errors=True)

    def addresses(self) -> dict[str, str | int]:
        """What the placeholders of a sandbox target stand for, now that the sandbox is up."""
        return {"sandbox": self.url, "sandbox_host": "127.0.0.1", "sandbox_dns_port": self.dns_port,
                "sandbox_smtp_port": self.mail.smtp_port if self.mail else 0,
                "sandbox_imap_port": self.mail.imap_port if self.mail else 0,
                "sandbox_https": self.https_url, "sandbox_ca_file": str(self.ca_file) if self.ca_file else ""}

    def stop(self) -> None:
        if self._loop and self._runner:
            asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(timeout=10)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)

    def __enter__(self) -> "Sandbox":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
