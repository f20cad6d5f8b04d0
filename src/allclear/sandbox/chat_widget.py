"""A customer's website with the vendor's chat widget on it, and the widget's own endpoints.

`/website/` is the customer's site, not the vendor's: it stays up through the vendor's maintenance.
It embeds the widget the way the vendor's loader does (`window.gladlyConfig = {appId}` and an async
`<script src=".../chat-sdk/widget.js?q=<time>">`). The widget reads its configuration (business
hours, throttling, the "Enable Search and Quick Actions" switch) from `/chat-sdk/config/{appId}.json`.
During maintenance the vendor says the widget may still appear while Quick Actions and FAQs do not
load: so the script and its configuration are spared by the maintenance page, and the quick-actions
and answers endpoints answer 503 of their own accord.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone

from aiohttp import web

from allclear import window
from allclear.config import BusinessHours
from allclear.sandbox.parts import FaultKinds, PartSetup
from allclear.sandbox.platform import STATE, html, page

FAULTS: FaultKinds = {
    "chat-throttled": (None, "chat is throttled to 0%: the widget renders nothing"),
    "chat-search-off": (None, "'Enable Search and Quick Actions' is off: the chat panel has neither"),
    "chat-script-404": (None, "the chat widget's script answers 404"),
    "chat-quick-actions-fail": (None, "the chat panel opens but its quick actions never load (503)"),
}
ORDER = 70
# The customer's website is not the vendor's; the widget's script and config still load in maintenance.
STAYS_UP_IN_MAINTENANCE = ("/website", "/chat-sdk/widget.js", "/chat-sdk/config/")
APP_ID = "sandbox.allclear.test"
OFFLINE_MESSAGE = "Our team is away right now. We're back during business hours."
QUICK_ACTIONS = [{"id": "track-order", "label": "Track my order"},
                 {"id": "returns", "label": "Start a return"},
                 {"id": "talk", "label": "Talk to us"}]


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class Conversation:
    id: str
    app_id: str
    messages: list[dict[str, str]] = field(default_factory=list)


@dataclass
class ChatState:
    """The business hours the widget is open in (None: always open), a clock tests can set, and the chats."""

    business_hours: BusinessHours | None = None
    clock: Callable[[], datetime] = _utc_now
    conversations: dict[str, Conversation] = field(default_factory=dict)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1), repr=False)

    def available(self) -> bool:
        return self.business_hours is None or window.is_open(self.business_hours, self.clock())

    def next_id(self, prefix: str) -> str:
        return f"{prefix}-{next(self._ids):04d}"


CHAT: web.AppKey[ChatState] = web.AppKey("chat_state", ChatState)


def _unknown_app(app_id: str) -> web.Response | None:
    if app_id != APP_ID:
        return web.json_response({"errors": [{"code": "not_found", "detail": f"unknown app {app_id!r}"}]},
                                 status=404)
    return None


async def website_redirect(request: web.Request) -> web.Response:
    raise web.HTTPFound("/website/")


async def website(request: web.Request) -> web.Response:
    return html(page("website.html"))


def script(request: web.Request, name: str) -> web.Response:
    """A widget's script (static/`name`), or the 404 that `chat-script-404` makes of it."""
    if request.app[STATE].faults.active("chat-script-404"):
        return web.Response(text="Not Found", status=404)
    return web.Response(text=page(name), content_type="application/javascript", headers={"Cache-Control": "no-cache"})


async def widget_script(request: web.Request) -> web.Response:
    return script(request, "widget.js")


async def widget_config(request: web.Request) -> web.Response:
    app_id = request.match_info["app_id"]
    if refused := _unknown_app(app_id):
        return refused
    faults = request.app[STATE].faults
    return web.json_response({
        "appId": app_id,
        "available": request.app[CHAT].available(),
        "throttlePercent": 0 if faults.active("chat-throttled") else 100,
        "searchAndQuickActionsEnabled": not faults.active("chat-search-off"),
        "offHours": "offline-message",
        "offlineMessage": OFFLINE_MESSAGE,
    })


async def quick_actions(request: web.Request) -> web.Response:
    if refused := _unknown_app(request.match_info["app_id"]):
        return refused
    faults = request.app[STATE].faults
    if faults.active("maintenance") or faults.active("chat-quick-actions-fail"):
        return web.json_response({"errors": [{"code": "unavailable", "detail": "Service Unavailable"}]},
                                 status=503)
    return web.json_response({"quickActions": QUICK_ACTIONS})


async def start_conversation(request: web.Request) -> web.Response:
    chat = request.app[CHAT]
    try:
        body = await request.json()
    except ValueError:
        body = {}
    conversation = Conversation(id=chat.next_id("conv"), app_id=str(body.get("appId", APP_ID)))
    chat.conversations[conversation.id] = conversation
    return web.json_response({"id": conversation.id}, status=201)


async def send_message(request: web.Request) -> web.Response:
    chat = request.app[CHAT]
    conversation = chat.conversations.get(request.match_info["conversation_id"])
    if conversation is None:
        return web.json_response({"errors": [{"code": "not_found", "detail": "no such conversation"}]}, status=404)
    try:
        text = str((await request.json()).get("text", "")).strip()
    except (ValueError, AttributeError):
        text = ""
    if not text:
        return web.json_response({"errors": [{"attr": "text", "code": "blank", "detail": "text is required"}]},
                                 status=400)
    message = {"id": chat.next_id("msg"), "text": text}
    conversation.messages.append(message)
    return web.json_response({"id": message["id"], "status": "received"}, status=201)


def setup(app: web.Application, sandbox: PartSetup) -> None:
    """Open in the target's business hours; tests may set the clock (`Sandbox.chat.clock`)."""
    app[CHAT] = ChatState(business_hours=sandbox.target.business_hours)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/website", website_redirect)
    app.router.add_get("/website/", website)
    app.router.add_get("/chat-sdk/widget.js", widget_script)
    app.router.add_get("/chat-sdk/config/{app_id}.json", widget_config)
    app.router.add_get("/chat-sdk/quick-actions/{app_id}.json", quick_actions)
    app.router.add_post("/chat-sdk/conversations", start_conversation)
    app.router.add_post("/chat-sdk/conversations/{conversation_id}/messages", send_message)
