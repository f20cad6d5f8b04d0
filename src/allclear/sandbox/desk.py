"""The sandbox's ticket desk: where the sandbox target's escalations land, so they can be watched.

Three receivers shaped like the services they stand in for:
- `POST /_desk/pagerduty/v2/enqueue`: PagerDuty Events API v2 (202 `{status, message, dedup_key}`;
  400 `{status: "invalid event", message, errors}`); one alert per dedup_key, folded re-triggers,
  resolved by a resolve event; a trigger after that opens a new one, as PagerDuty does;
- `/_desk/zendesk/api/v2/uploads` and `/tickets`: Zendesk Support (upload token, ticket with it,
  comments, solved; tickets listed by `external_id`, duplicates and all, as Zendesk keeps no
  external_id unique), HTTP Basic `<email>/token:<api token>`;
- `POST /_desk/webhook`: any JSON, its HMAC signature checked when the target signs.

`GET /_desk` shows what arrived. The desk keeps it in a JSON file under reports/ so a later run
(a new sandbox) still finds the alert it must resolve. Fault `desk-down` makes it answer 503.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from aiohttp import web

from allclear.sandbox.parts import FaultKinds, PartSetup
from allclear.sandbox.platform import STATE

FAULTS: FaultKinds = {
    "desk-down": (None, "the sandbox's ticket desk (PagerDuty, Zendesk, webhook stand-ins) answers 503"),
}
ORDER = 90
STAYS_UP_IN_MAINTENANCE = ("/_desk",)      # the desk stands in for the customer's own services
PAGERDUTY_SEVERITIES = ("critical", "error", "warning", "info")


@dataclass
class DeskAccounts:
    """Who may write to the desk: the secrets the sandbox made up for the target's sinks."""

    routing_keys: set[str] = field(default_factory=set)
    zendesk: dict[str, str] = field(default_factory=dict)      # "<email>/token" -> api token
    webhook_secrets: set[str] = field(default_factory=set)


class Desk:
    def __init__(self, accounts: DeskAccounts, path: Path | None = None):
        self.accounts = accounts
        self.path = path
        self.data: dict = {"alerts": [], "tickets": [], "uploads": {}, "webhook": []}
        if path and path.is_file():
            self.data.update(json.loads(path.read_text(encoding="utf-8")))

    def save(self) -> None:
        if self.path:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text(json.dumps(self.data, indent=2), encoding="utf-8")

    def open_alert(self, dedup_key: str) -> dict | None:
        return next((a for a in self.data["alerts"] if a["dedup_key"] == dedup_key and a["status"] != "resolved"),
                    None)


DESK = web.AppKey("desk", Desk)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@web.middleware
async def desk_down(request: web.Request, handler):
    if request.path.startswith("/_desk/") and request.app[STATE].faults.active("desk-down"):
        return web.json_response({"error": "desk-down: the sandbox ticket desk is unavailable"}, status=503)
    return await handler(request)


def _invalid(message: str, errors: list[str]) -> web.Response:
    return web.json_response({"status": "invalid event", "message": message, "errors": errors}, status=400)


async def pagerduty_enqueue(request: web.Request) -> web.Response:
    desk = request.app[DESK]
    try:
        event = await request.json()
    except json.JSONDecodeError:
        return _invalid("Event object is invalid", ["Request body is not valid JSON"])
    errors = []
    if event.get("routing_key") not in desk.accounts.routing_keys:
        errors.append("'routing_key' is missing or not an integration key of this service")
    action = event.get("event_action")
    if action not in ("trigger", "acknowledge", "resolve"):
        errors.append("'event_action' must be one of trigger, acknowledge, resolve")
    key = event.get("dedup_key") or ""
    if action in ("acknowledge", "resolve") and not key:
        errors.append("'dedup_key' is required to acknowledge or resolve")
    if len(key) > 255:
        errors.append("'dedup_key' is longer than 255 characters")
    payload = event.get("payload") or {}
    if action == "trigger":
        for name in ("summary", "source", "severity"):
            if not payload.get(name):
                errors.append(f"'payload.{name}' is missing")
        if payload.get("severity") and payload["severity"] not in PAGERDUTY_SEVERITIES:
            errors.append("'payload.severity' must be one of critical, error, warning, info")
        if len(payload.get("summary", "")) > 1024:
            errors.append("'payload.summary' is longer than 1024 characters")
    if errors:
        return _invalid("Event object is invalid", errors)
    key = key or secrets.token_hex(16)
    alert = desk.open_alert(key)
    if action == "trigger":
        if alert is None:
            alert = {"dedup_key": key, "status": "triggered", "opened_at": _now(), "resolved_at": None,
                     "events": 0}
            desk.data["alerts"].append(alert)
        alert.update(summary=payload["summary"], severity=payload["severity"], component=payload.get("component"),
                     links=event.get("links", []), custom_details=payload.get("custom_details", {}))
        alert["events"] += 1
    elif alert is not None:
        alert["events"] += 1
        if action == "resolve":
            alert.update(status="resolved", resolved_at=_now())
        else:
            alert["status"] = "acknowledged"
    desk.save()
    return web.json_response({"status": "success", "message": "Event processed", "dedup_key": key}, status=202)


def _zendesk_user(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    if not header.startswith("Basic "):
        return None
    try:
        user, _, token = base64.b64decode(header[6:]).decode().partition(":")
    except ValueError:
        return None
    expected = request.app[DESK].accounts.zendesk.get(user)
    return user if expected and hmac.compare_digest(expected, token) else None


def _unauthorized() -> web.Response:
    return web.json_response({"error": "Couldn't authenticate you"}, status=401)


async def zendesk_upload(request: web.Request) -> web.Response:
    if not _zendesk_user(request):
        return _unauthorized()
    filename = request.query.get("filename")
    if not filename:
        return web.json_response({"error": "InvalidValue", "description": "filename is required"}, status=400)
    content = await request.read()
    token = secrets.token_urlsafe(12)
    attachment = {"file_name": filename, "size": len(content),
                  "content_type": request.headers.get("Content-Type", "application/binary"),
                  "sha256": hashlib.sha256(content).hexdigest()}
    desk = request.app[DESK]
    desk.data["uploads"][token] = attachment
    desk.save()
    return web.json_response({"upload": {"token": token, "attachment": attachment, "attachments": [attachment]}},
                             status=201)


def _comment(desk: Desk, comment: dict, author: str) -> dict:
    return {"body": comment.get("body", ""), "author": author, "created_at": _now(),
            "attachments": [desk.data["uploads"][t] for t in comment.get("uploads", []) if t in desk.data["uploads"]]}


async def zendesk_create(request: web.Request) -> web.Response:
    user = _zendesk_user(request)
    if not user:
        return _unauthorized()
    desk = request.app[DESK]
    ticket_in = (await request.json()).get("ticket") or {}
    comment = ticket_in.get("comment") or {}
    if not comment.get("body") and not comment.get("html_body"):
        return web.json_response({"error": "RecordInvalid", "description": "Record validation errors",
                                  "details": {"base": [{"description": "Description: cannot be blank"}]}},
                                 status=422)
    ticket = {"id": len(desk.data["tickets"]) + 1, "subject": ticket_in.get("subject", ""), "status": "new",
              "priority": ticket_in.get("priority"), "type": ticket_in.get("type"), "tags": ticket_in.get("tags", []),
              "external_id": ticket_in.get("external_id"), "created_at": _now(), "updated_at": _now(),
              "comments": [_comment(desk, comment, user)]}
    desk.data["tickets"].append(ticket)
    desk.save()
    return web.json_response({"ticket": _public(ticket)}, status=201)


async def zendesk_update(request: web.Request) -> web.Response:
    user = _zendesk_user(request)
    if not user:
        return _unauthorized()
    desk = request.app[DESK]
    ticket = next((t for t in desk.data["tickets"] if str(t["id"]) == request.match_info["id"]), None)
    if ticket is None:
        return web.json_response({"error": "RecordNotFound", "description": "Not found"}, status=404)
    changes = (await request.json()).get("ticket") or {}
    if changes.get("comment"):
        ticket["comments"].append(_comment(desk, changes["comment"], user))
    for name in ("status", "priority", "subject", "external_id"):
        if changes.get(name):
            ticket[name] = changes[name]
    if ticket["status"] == "new":
        ticket["status"] = "open"
    ticket["updated_at"] = _now()
    desk.save()
    return web.json_response({"ticket": _public(ticket)})


async def zendesk_list(request: web.Request) -> web.Response:
    """List Tickets, as Zendesk answers `GET /api/v2/tickets?external_id=…`: every ticket with it,
    whatever its status (Zendesk does not keep external_ids unique: neither does the desk)."""
    if not _zendesk_user(request):
        return _unauthorized()
    wanted = request.query.get("external_id")
    found = [_public(t) for t in request.app[DESK].data["tickets"] if wanted is None or t["external_id"] == wanted]
    return web.json_response({"tickets": found, "next_page": None, "previous_page": None, "count": len(found)})


def _public(ticket: dict) -> dict:
    return {k: v for k, v in ticket.items() if k != "comments"}


async def webhook(request: web.Request) -> web.Response:
    desk = request.app[DESK]
    body = await request.read()
    if desk.accounts.webhook_secrets:
        given = request.headers.get("X-Allclear-Signature", "")
        if not any(hmac.compare_digest(given, "sha256=" + hmac.new(s.encode(), body, hashlib.sha256).hexdigest())
                   for s in desk.accounts.webhook_secrets):
            return web.json_response({"error": "bad or missing X-Allclear-Signature"}, status=401)
    try:
        event = json.loads(body)
    except json.JSONDecodeError:
        return web.json_response({"error": "body is not JSON"}, status=400)
    desk.data["webhook"].append({"received_at": _now(), "event": event})
    desk.save()
    return web.json_response({"received": len(desk.data["webhook"])})


async def show(request: web.Request) -> web.Response:
    return web.json_response(request.app[DESK].data)


def accounts_for(sandbox: PartSetup) -> DeskAccounts:
    """The desk accepts what the target's own sinks will present (secrets made up like the rest)."""
    accounts = DeskAccounts()
    for sink in sandbox.target.escalation.sinks:
        if sink.type == "pagerduty":
            accounts.routing_keys.add(sandbox.secret(sink.routing_key_env))
        elif sink.type == "zendesk":
            accounts.zendesk[f"{sink.user}/token"] = sandbox.secret(sink.api_token_env)
        elif sink.type == "webhook" and sink.secret_env:
            accounts.webhook_secrets.add(sandbox.secret(sink.secret_env))
    return accounts


def setup(app: web.Application, sandbox: PartSetup) -> None:
    app[DESK] = Desk(accounts_for(sandbox), sandbox.desk_file)


def add_routes(app: web.Application) -> None:
    app.middlewares.append(desk_down)
    app.router.add_get("/_desk", show)
    app.router.add_post("/_desk/pagerduty/v2/enqueue", pagerduty_enqueue)
    app.router.add_post("/_desk/zendesk/api/v2/uploads", zendesk_upload)
    app.router.add_post("/_desk/zendesk/api/v2/tickets", zendesk_create)
    app.router.add_get("/_desk/zendesk/api/v2/tickets", zendesk_list)
    app.router.add_put("/_desk/zendesk/api/v2/tickets/{id}", zendesk_update)
    app.router.add_post("/_desk/webhook", webhook)
