"""Sandbox B's agent side: the same platform (agents, sessions, faults) shaped unlike sandbox A, the
way another vendor, or the same vendor a release later, may shape it. `config/sandbox-b.toml`
points the checklist here; `config/sandbox.toml` never does.

- Pages answer only at their trailing-slash URLs (`/agent/`, `/agent/desk/`); without it, 404.
- Sign-in is single sign-on: the login page sends the agent to an identity provider on its own host
  (`localhost`, so its cookies are not the platform's), whose password form is rendered by
  JavaScript, posts with fetch, shows a refusal without a page load and keeps the typed password in
  its field; then a second factor (TOTP, RFC 6238, the agent's `totp_env` seed), then back to the
  platform with a one-time ticket.
- The desktop's status is a control of its own (a button with a listbox); "Sign out" sits in a
  separate account menu. Other class names, no test ids.

Every sandbox-A fault that concerns these pages acts here too (maintenance, login-500,
agents-locked, desktop-spinner, desktop-slow): they are read from the same switchboard.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass, field

import pyotp
from aiohttp import web

from allclear.sandbox.parts import FaultKinds, PartSetup
from allclear.sandbox.platform import ACTIVE_STATUSES, AWAY_STATUSES, STATE, html, page

FAULTS: FaultKinds = {}          # all of sandbox A's, read from the shared switchboard
ORDER = 15
STAYS_UP_IN_MAINTENANCE = ("/idp/",)      # the identity provider is the customer's, not the vendor's
SESSION_COOKIE = "desk_sid"
IDP_HOST = "localhost"


@dataclass
class ShapeB:
    totp_seeds: dict[str, str]                                      # agent email -> base32 seed
    pending: dict[str, str] = field(default_factory=dict)           # IdP transaction -> email (password ok)
    tickets: dict[str, str] = field(default_factory=dict)           # one-time ticket -> email (signed in)
    sessions: dict[str, str] = field(default_factory=dict)          # desk session -> email


SHAPE_B: web.AppKey[ShapeB] = web.AppKey("shape_b", ShapeB)


def setup(app: web.Application, sandbox: PartSetup) -> None:
    """Each agent's second-factor seed: its `totp_env` when set (made up, base32, when unset)."""
    seeds = {}
    for agent in sandbox.target.agents:
        if agent.totp_env:
            sandbox.environ.setdefault(agent.totp_env, pyotp.random_base32())
            seeds[agent.email] = sandbox.environ[agent.totp_env]
    app[SHAPE_B] = ShapeB(totp_seeds=seeds)


def _platform_url(request: web.Request, path: str) -> str:
    return f"http://127.0.0.1:{request.url.port}{path}"


async def landing(request: web.Request) -> web.Response:
    return html(page("b-landing.html").replace("__IDP__", f"http://{IDP_HOST}:{request.url.port}/idp/signin/"))


async def idp_signin(request: web.Request) -> web.Response:
    return html(page("b-idp.html"))


async def idp_password(request: web.Request) -> web.Response:
    """The IdP's JSON sign-in: 401/423/500 with a message the page shows in place."""
    state, shape = request.app[STATE], request.app[SHAPE_B]
    if state.faults.active("login-500"):
        return web.json_response({"message": "Sign-in is unavailable right now (error 500)."}, status=500)
    body = await request.json()
    email, password = str(body.get("username", "")), str(body.get("password", ""))
    account = state.agents.get(email)
    if account and state.locked(email):
        return web.json_response({"message": "This account is locked. Ask your administrator."}, status=423)
    if not account or not secrets.compare_digest(account.password, password):
        return web.json_response({"message": "We couldn't sign you in. Check your email and password."}, status=401)
    transaction = secrets.token_urlsafe(12)
    shape.pending[transaction] = email
    return web.json_response({"next": f"/idp/verify/?tx={transaction}"})


async def idp_verify_page(request: web.Request) -> web.Response:
    transaction = request.query.get("tx", "")
    if transaction not in request.app[SHAPE_B].pending:
        return html(page("b-verify.html").replace("__TX__", "").replace(
            "<!--ERROR-->", '<p class="notice" role="alert">Your sign-in expired. Start again.</p>'), status=400)
    return html(page("b-verify.html").replace("__TX__", transaction))


async def idp_verify(request: web.Request) -> web.Response:
    shape = request.app[SHAPE_B]
    form = await request.post()
    transaction, code = str(form.get("tx", "")), str(form.get("code", "")).strip()
    email = shape.pending.get(transaction)
    seed = shape.totp_seeds.get(email or "")
    if email is None or seed is None or not pyotp.TOTP(seed).verify(code, valid_window=1):
        refused = '<p class="notice" role="alert">That code is not right. Try the newest one.</p>'
        return html(page("b-verify.html").replace("__TX__", transaction).replace("<!--ERROR-->", refused), status=401)
    del shape.pending[transaction]
    ticket = secrets.token_urlsafe(16)
    shape.tickets[ticket] = email
    raise web.HTTPSeeOther(_platform_url(request, f"/agent/sso/callback/?ticket={ticket}"))


async def sso_callback(request: web.Request) -> web.Response:
    state, shape = request.app[STATE], request.app[SHAPE_B]
    email = shape.tickets.pop(request.query.get("ticket", ""), None)
    if email is None:
        return html("<title>Sign-in failed</title><p role=alert>This sign-in link is not valid.</p>", status=403)
    session = secrets.token_urlsafe(16)
    shape.sessions[session] = email
    account = state.agents[email]
    account.logins += 1
    account.status = "Away"
    response = web.HTTPSeeOther("/agent/desk/")
    response.set_cookie(SESSION_COOKIE, session, httponly=True, samesite="Lax", path="/agent/")
    raise response


def _agent(request: web.Request):
    email = request.app[SHAPE_B].sessions.get(request.cookies.get(SESSION_COOKIE, ""))
    return request.app[STATE].agents.get(email) if email else None


async def desk(request: web.Request) -> web.Response:
    if not _agent(request):
        raise web.HTTPFound("/agent/")
    return html(page("b-desk.html"))


async def desk_me(request: web.Request) -> web.Response:
    account = _agent(request)
    if not account:
        return web.json_response({"error": "signed out"}, status=401)
    faults = request.app[STATE].faults
    if faults.active("desktop-spinner"):
        await asyncio.sleep(0.2)
        return web.json_response({"loading": True})
    await asyncio.sleep(float(faults.arg("desktop-slow")))
    return web.json_response({"loading": False, "displayName": account.name, "status": account.status,
                              "statuses": {"active": ACTIVE_STATUSES, "away": AWAY_STATUSES}})


async def desk_status(request: web.Request) -> web.Response:
    account = _agent(request)
    if not account:
        return web.json_response({"error": "signed out"}, status=401)
    wanted = (await request.json()).get("status")
    if wanted not in ACTIVE_STATUSES + AWAY_STATUSES:
        return web.json_response({"error": f"unknown status {wanted!r}"}, status=400)
    account.status = wanted
    return web.json_response({"status": account.status})


async def desk_sign_out(request: web.Request) -> web.Response:
    email = request.app[SHAPE_B].sessions.pop(request.cookies.get(SESSION_COOKIE, ""), None)
    if email:
        request.app[STATE].agents[email].status = "Offline"
    response = web.json_response({"signedOut": True})
    response.del_cookie(SESSION_COOKIE, path="/agent/")
    return response


def add_routes(app: web.Application) -> None:
    app.router.add_get("/agent/", landing)
    app.router.add_get("/agent/sso/callback/", sso_callback)
    app.router.add_get("/agent/desk/", desk)
    app.router.add_get("/agent/api/me/", desk_me)
    app.router.add_post("/agent/api/status/", desk_status)
    app.router.add_post("/agent/api/sign-out/", desk_sign_out)
    app.router.add_get("/idp/signin/", idp_signin)
    app.router.add_post("/idp/api/password/", idp_password)
    app.router.add_get("/idp/verify/", idp_verify_page)
    app.router.add_post("/idp/verify/", idp_verify)
