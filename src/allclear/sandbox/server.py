"""Run the sandbox platform on 127.0.0.1 in a background thread, for one session or on its own.

The server keeps the lifecycle (ports, the HTTPS site, start and stop); what the platform serves
comes from its parts, found in this package and joined to one app (see parts.py).
The sandbox takes its accounts from the target file (the agents and the API user it lists) and
makes up their secrets: each secret environment variable the target names is set to a fresh
random value unless it is set already, so the checks read secrets the same way as on a real target.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import threading
from collections.abc import MutableMapping
from pathlib import Path

from aiohttp import web

from allclear.config import Target
from allclear.sandbox import parts, tls
from allclear.sandbox.chat_widget import CHAT, ChatState
from allclear.sandbox.desk import DESK, Desk
from allclear.sandbox.dns import DNS_PORT
from allclear.sandbox.faults import FaultError, Switchboard, parse_fault
from allclear.sandbox.mail import MAIL, MailSandbox
from allclear.sandbox.platform import STATE, PlatformState
from allclear.sandbox.voice import VOICE, VoiceState


async def get_faults(request: web.Request) -> web.Response:
    return web.json_response({"faults": request.app[STATE].faults.describe()})


async def set_faults(request: web.Request) -> web.Response:
    """`POST /_sandbox/faults {"faults": ["agents-locked:3"]}` replaces the faults switched on."""
    body = await request.json()
    try:
        faults = [parse_fault(spec, request.app[parts.PARTS].faults) for spec in body.get("faults", [])]
    except FaultError as exc:
        return web.json_response({"error": str(exc)}, status=400)
    switchboard = request.app[STATE].faults
    switchboard.replace(faults)
    return web.json_response({"faults": switchboard.describe()})


def build_app(sandbox_parts: parts.Parts, sandbox: parts.PartSetup) -> web.Application:
    """The platform's app: every part joins it, then the sandbox's own fault switch."""
    # Up to Zendesk's own upload limit (50 MB): the desk takes the HTML report as an attachment.
    app = web.Application(client_max_size=50 * 2**20)
    sandbox_parts.join(app, sandbox)
    app.router.add_get("/_sandbox/faults", get_faults)
    app.router.add_post("/_sandbox/faults", set_faults)
    return app


class Sandbox:
    """The embedded platform, serving on an ephemeral loopback port until `stop()`.

    `desk_file` keeps the ticket desk's alerts and tickets between runs (a JSON file under reports/);
    `ALLCLEAR_SANDBOX_DESK` names one file for several runs' sandboxes instead (the sites' runs and
    their merge, one after the other on one machine: one desk, as a real Jira is one).
    """

    def __init__(self, target: Target, faults: list[str] | None = None, port: int = 0,
                 environ: MutableMapping[str, str] | None = None, desk_file: Path | None = None):
        all_faults = [*(target.sandbox.faults if target.sandbox else []), *(faults or [])]
        self.environ = os.environ if environ is None else environ
        if self.environ.get("ALLCLEAR_SANDBOX_DESK"):
            desk_file = Path(self.environ["ALLCLEAR_SANDBOX_DESK"])
        self.target = target
        self.parts = parts.discover()
        switchboard = Switchboard([parse_fault(spec, self.parts.faults) for spec in all_faults])
        self.app = build_app(self.parts, parts.PartSetup(target, switchboard, self.environ, desk_file))
        self._port = port
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread = threading.Thread(target=self._serve, name="allclear-sandbox", daemon=True)
        self._error: BaseException | None = None
        self.url = ""
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
        self._runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=1)
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
        self.url = f"http://127.0.0.1:{port}"

    async def _shutdown(self) -> None:
        await self._runner.cleanup()
        if self._tls_dir:
            shutil.rmtree(self._tls_dir, ignore_errors=True)

    def addresses(self) -> dict[str, str | int]:
        """What the placeholders of a sandbox target stand for, now that the sandbox is up."""
        return {"sandbox": self.url, "sandbox_host": "127.0.0.1", **self.parts.addresses(self.app),
                "sandbox_https": self.https_url, "sandbox_ca_file": str(self.ca_file) if self.ca_file else ""}

    # Each part's state, as tests and the CLI read it; a new part's is `sandbox.app[ITS_KEY]`.

    @property
    def state(self) -> PlatformState:
        return self.app[STATE]

    @property
    def voice(self) -> VoiceState:
        return self.app[VOICE]

    @property
    def chat(self) -> ChatState:
        return self.app[CHAT]

    @property
    def desk(self) -> Desk:
        return self.app[DESK]

    @property
    def mail(self) -> MailSandbox | None:
        """The mail servers, once started, if the target has an `[email]` section enabled."""
        return self.app.get(MAIL)

    @property
    def dns_port(self) -> int:
        return self.app.get(DNS_PORT, 0)

    def stop(self) -> None:
        if self._loop and self._runner:
            asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(timeout=10)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)

    def __enter__(self) -> "Sandbox":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
