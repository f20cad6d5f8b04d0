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

ACTIVE_STATUSES = ["Helping Customers", "Training", "Team Meeting", "Wrap Up", "Administration"]
AWAY_STATUSES = ["Away"]
SESSION_COOKIE = "sandbox_session"
# Not the vendor's platform (Twilio, the status page, the customer's own website), or still served in
# maintenance: the vendor's widget script and its config load, its quick actions and search do not.
STAYS_UP_IN_MAINTENANCE = ("/_sandbox", "/_desk", "/statuspage", "/2010-04-01", "/website", "/chat-sdk/widget.js",
                           "/chat-sdk/config/")


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
    if state.faults.active("maintenance") and not request.path.startswith(STAYS_UP_IN_MAINTENANCE):
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
    delay = str(request.app[STATE].desktop_delay_ms)
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


def add_routes(app: web.Application) -> None:
    app.router.add_get("/", root)
    app.router.add_get("/login", login_page)
    app.router.add_post("/login", login_submit)
    app.router.add_get("/desktop", desktop)
    app.router.add_get("/desktop/api/me", desktop_me)
    app.router.add_post("/desktop/api/status", desktop_status)
    app.router.add_post("/logout", logout)
