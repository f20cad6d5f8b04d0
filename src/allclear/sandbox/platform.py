"""The sandbox's agent-facing pages: login, agent desktop, logout, and the maintenance page.

Behaves as the vendor documents it: while in maintenance every page and API answers with the
maintenance page; the desktop renders client-side after a short delay; Active statuses live under
the profile menu beside Away; logging out takes the agent offline.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
from dataclasses import dataclass, field
from importlib import resources

from aiohttp import web

from allclear.sandbox.faults import Switchboard
from allclear.sandbox.parts import PARTS, FaultKinds, PartSetup

FAULTS: FaultKinds = {
    "maintenance": (None, "every page and API shows the vendor maintenance page"),
    "maintenance-for": (float, "maintenance for SECONDS, then it ends by itself (to rehearse `allclear watch`)"),
    "login-500": (None, "the login form answers HTTP 500"),
    "agents-locked": (int, "the first N configured agents are refused at login"),
    "desktop-spinner": (None, "the agent desktop never finishes loading"),
    "desktop-slow": (float, "the agent desktop takes SECONDS to finish loading"),
}
ORDER = 10
# The sandbox's own controls. Each part names its paths that are not the vendor's platform (Twilio,
# the status page, the customer's own website) or are still served in maintenance.
STAYS_UP_IN_MAINTENANCE = ("/_sandbox",)

ACTIVE_STATUSES = ["Helping Customers", "Training", "Team Meeting", "Wrap Up", "Administration"]
AWAY_STATUSES = ["Away"]
SESSION_COOKIE = "sandbox_session"


def page(name: str) -> str:
    return resources.files("allclear.sandbox").joinpath("static", name).read_text(encoding="utf-8")


@dataclass
class AgentAccount:
    email: str
    password: str
    name: str
    status: str = "Offline"
    logins: int = 0


@dataclass
class PlatformState:
    """Everything the sandbox platform knows: accounts, sessions, faults."""

    faults: Switchboard
    agents: dict[str, AgentAccount]
    api_user: str = ""
    api_token: str = ""
    desktop_delay_ms: int = 400
    sessions: dict[str, str] = field(default_factory=dict)
    api_requests: int = 0               # reporting API requests so far (for `reports-flaky`)

    def locked(self, email: str) -> bool:
        count = int(self.faults.arg("agents-locked"))
        return email in list(self.agents)[:count]

    def api_authorized(self, request: web.Request) -> bool:
        expected = base64.b64encode(f"{self.api_user}:{self.api_token}".encode()).decode()
        return not self.faults.active("reports-401") and request.headers.get("Authorization") == f"Basic {expected}"


STATE: web.AppKey[PlatformState] = web.AppKey("platform_state", PlatformState)


def html(body: str, status: int = 200) -> web.Response:
    return web.Response(text=body, status=status, content_type="text/html")


@web.middleware
async def maintenance_middleware(request: web.Request, handler):
    """In maintenance the vendor serves its maintenance page in place of every page and API."""
    state = request.app[STATE]
    if state.faults.active("maintenance") and not request.path.startswith(request.app[PARTS].stays_up_in_maintenance):
        return html(page("maintenance.html"), status=503)
    return await handler(request)


async def root(request: web.Request) -> web.Response:
    raise web.HTTPFound("/login")


async def login_page(request: web.Request) -> web.Response:
    return html(page("login.html"))


async def login_submit(request: web.Request) -> web.Response:
    state = request.app[STATE]
    if state.faults.active("login-500"):
        return html("<h1>Internal Server Error</h1><p>Something went wrong.</p>", status=500)
    form = await request.post()
    email, password = str(form.get("email", "")), str(form.get("password", ""))
    account = state.agents.get(email)
    if account and state.locked(email):
        return _login_refused("Your account is locked. Contact your administrator.", 403)
    if not account or not secrets.compare_digest(account.password, password):
        return _login_refused("Incorrect email or password.", 401)
    token = secrets.token_urlsafe(16)
    state.sessions[token] = email
    account.logins += 1
    account.status = "Away"
    response = web.HTTPSeeOther("/desktop")
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="Lax")
    raise response


def _login_refused(message: str, status: int) -> web.Response:
    body = page("login.html").replace("<!--ERROR-->", f'<p class="login-error" role="alert">{message}</p>')
    return html(body, status=status)


def _signed_in(request: web.Request) -> AgentAccount | None:
    state = request.app[STATE]
    email = state.sessions.get(request.cookies.get(SESSION_COOKIE, ""))
    return state.agents.get(email) if email else None


async def desktop(request: web.Request) -> web.Response:
    if not _signed_in(request):
        raise web.HTTPFound("/login")
    state = request.app[STATE]
    slow_s = float(state.faults.arg("desktop-slow"))
    delay = str(int(slow_s * 1000) if slow_s else state.desktop_delay_ms)
    return html(page("desktop.html").replace("__DESKTOP_DELAY_MS__", delay))


async def desktop_me(request: web.Request) -> web.Response:
    account = _signed_in(request)
    if not account:
        return web.json_response({"error": "not signed in"}, status=401)
    if request.app[STATE].faults.active("desktop-spinner"):
        await asyncio.sleep(0.2)
        return web.json_response({"ready": False})
    return web.json_response({"ready": True, "name": account.name, "email": account.email,
                              "status": account.status})


async def desktop_status(request: web.Request) -> web.Response:
    account = _signed_in(request)
    if not account:
        return web.json_response({"error": "not signed in"}, status=401)
    wanted = (await request.json()).get("status")
    if wanted not in ACTIVE_STATUSES + AWAY_STATUSES:
        return web.json_response({"error": f"unknown status {wanted!r}"}, status=400)
    account.status = wanted
    return web.json_response({"status": account.status})


async def logout(request: web.Request) -> web.Response:
    state = request.app[STATE]
    email = state.sessions.pop(request.cookies.get(SESSION_COOKIE, ""), None)
    if email:
        state.agents[email].status = "Offline"
    response = web.HTTPSeeOther("/login")
    response.del_cookie(SESSION_COOKIE)
    raise response


async def sandbox_agents(request: web.Request) -> web.Response:
    agents = request.app[STATE].agents.values()
    return web.json_response([{"email": a.email, "status": a.status, "logins": a.logins} for a in agents])


def setup(app: web.Application, sandbox: PartSetup) -> None:
    """The agents and the API user the target lists, with the secrets the sandbox made up for them."""
    agents = {
        agent.email: AgentAccount(email=agent.email, password=sandbox.secret(agent.password_env),
                                  name=agent.email.split("@")[0].replace(".", " ").title())
        for agent in sandbox.target.agents
    }
    api = sandbox.target.reporting_api
    app[STATE] = PlatformState(faults=sandbox.faults, agents=agents, api_user=api.user if api else "",
                               api_token=sandbox.secret(api.token_env) if api else "")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/", root)
    app.router.add_get("/login", login_page)
    app.router.add_post("/login", login_submit)
    app.router.add_get("/desktop", desktop)
    app.router.add_get("/desktop/api/me", desktop_me)
    app.router.add_post("/desktop/api/status", desktop_status)
    app.router.add_post("/logout", logout)
    app.router.add_get("/_sandbox/agents", sandbox_agents)
    app.middlewares.append(maintenance_middleware)      # first in the chain: the platform is the first part
