"""The sandbox's customers and conversations, shaped like the vendor's public REST API.

An email to the support address becomes a conversation (the mail part calls `record_inbound_email`),
so the email check can confirm that the platform, not only its auto-responder, took the message in,
and label the probe's conversation as a test. The endpoints keep the vendor's shapes (its public
OpenAPI spec, Customers and Conversations tags):

    GET   /api/v1/customer-profiles?email=…              customers, newest update first, at most 50
    GET   /api/v1/customers/{customerId}/conversations   oldest first, at most 100 (Gladly-Limited-Data)
    GET   /api/v1/conversations/{conversationId}         one conversation
    GET   /api/v1/conversations/{conversationId}/items   its timeline, oldest first
    POST  /api/v1/conversations/{conversationId}/notes   {"content": {"body": …}} -> 201, Location
    POST  /api/v1/conversations/{conversationId}/topics  {"topicIds": […]} -> 204
    PATCH /api/v1/conversations/{conversationId}         {"status": {"value": "CLOSED", "force": true}} -> 204

Errors answer `{"errors": [{attr, code, detail}]}`. As the vendor does, each HTTP method may make 10
requests a second; beyond that, 429, and every answer carries `Ratelimit-Limit-Second` and
`Ratelimit-Remaining-Second`. The counters tests read (requests per method, 429s sent, the busiest
second per method) live in the state. `record_inbound_email` may be called from any thread: the
state is behind a lock.
"""

from __future__ import annotations

import base64
import threading
import time
import uuid
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.utils import parseaddr
from typing import Any

from aiohttp import web

from allclear.sandbox.parts import FaultKinds, PartSetup
from allclear.sandbox.platform import STATE

FAULTS: FaultKinds = {
    "email-no-conversation": (None, "an email to the support address is auto-replied but never becomes a conversation"),
    "conversation-slow": (float, "an email becomes a visible conversation only SECONDS after it arrives"),
    "api-429": (int, "the conversations API answers 429 to its first N requests, then serves them"),
}
ORDER = 25

RATE_PER_SECOND = 10          # the vendor's default limit, per HTTP method
MAX_CUSTOMERS = 50            # customer-profiles answers at most this many
MAX_CONVERSATIONS = 100       # a customer's conversations list is cut here, with Gladly-Limited-Data
INBOX_ID = "sandbox-support-inbox"


def _new_id() -> str:
    """An id the way the vendor writes them: a UUID in URL-safe base64, 22 characters."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()


def _stamp(moment: datetime) -> str:
    """RFC 3339 with milliseconds, as the vendor writes its times."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@dataclass
class Customer:
    id: str
    email: str                    # "" for a customer known by phone only (first contact by text)
    created_at: datetime          # a profile made by a slow intake shows up when its conversation does
    updated_at: datetime
    phone: str = ""

    def json(self) -> dict[str, Any]:
        emails = [{"original": self.email, "normalized": self.email.lower(), "primary": True}] if self.email else []
        phones = [{"original": self.phone, "normalized": self.phone, "type": "MOBILE", "primary": True}
                  ] if self.phone else []
        return {"id": self.id, "name": self.email.split("@")[0] or self.phone, "emails": emails, "phones": phones,
                "createdAt": _stamp(self.created_at), "updatedAt": _stamp(self.updated_at)}


@dataclass
class Conversation:
    id: str
    customer_id: str
    created_at: datetime
    status: str = "OPEN"
    closed_at: datetime | None = None
    topic_ids: list[str] = field(default_factory=list)
    items: list[dict[str, Any]] = field(default_factory=list)

    def json(self) -> dict[str, Any]:
        shown = {"id": self.id, "customerId": self.customer_id, "inboxId": INBOX_ID, "topicIds": list(self.topic_ids),
                 "customAttributes": [], "createdAt": _stamp(self.created_at), "status": self.status}
        if self.closed_at:
            shown["closedAt"] = _stamp(self.closed_at)
        return shown

    def waiting_for_reply(self) -> bool:
        """The customer wrote last: the vendor refuses to close such a conversation without `force`."""
        messages = [item for item in self.items if item["content"]["type"] in ("EMAIL", "SMS")]
        return bool(messages) and messages[-1]["initiator"]["type"] == "CUSTOMER"


@dataclass
class ConversationsState:
    """Customers, conversations (with their items) and the API's counters, behind one lock."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    customers: dict[str, Customer] = field(default_factory=dict)
    conversations: dict[str, Conversation] = field(default_factory=dict)
    requests: Counter[str] = field(default_factory=Counter)            # per HTTP method
    answered_429: int = 0
    busiest_second: Counter[str] = field(default_factory=Counter)      # per method: most requests in 1 s
    recent: dict[str, deque[float]] = field(default_factory=dict)      # per method: arrival times, last second

    def max_in_any_second(self) -> int:
        return max(self.busiest_second.values(), default=0)

    def customer_by_email(self, address: str) -> Customer | None:
        return next((c for c in self.customers.values() if c.email and c.email.lower() == address.lower()), None)

    def customer_by_phone(self, number: str) -> Customer | None:
        return next((c for c in self.customers.values() if c.phone and c.phone == number), None)

    def visible(self, conversation: Conversation) -> bool:
        return conversation.created_at <= datetime.now(timezone.utc)


CONVERSATIONS: web.AppKey[ConversationsState] = web.AppKey("sandbox_conversations", ConversationsState)


def record_inbound_email(app: web.Application, sender: str, recipient: str, subject: str, body: str,
                         message_id: str) -> None:
    """The support address received a message: the platform files it as a new OPEN conversation of
    the sender's customer profile (made on first contact), holding one EMAIL item.

    `email-no-conversation`: the profile is kept, but no conversation is made. `conversation-slow`:
    the conversation is stamped, and shown, SECONDS after the email arrived.
    """
    faults = app[STATE].faults
    state = app[CONVERSATIONS]
    arrived = datetime.now(timezone.utc)
    address = parseaddr(sender)[1] or sender
    created = arrived + timedelta(seconds=float(faults.arg("conversation-slow")))
    with state.lock:
        customer = state.customer_by_email(address)
        if customer is None:
            customer = Customer(_new_id(), address, created, created)
            state.customers[customer.id] = customer
        if faults.active("email-no-conversation"):
            return
        customer.updated_at = max(customer.updated_at, created)
        conversation = Conversation(_new_id(), customer.id, created_at=created)
        conversation.items.append({
            "id": _new_id(), "conversationId": conversation.id, "customerId": customer.id,
            "timestamp": _stamp(arrived), "initiator": {"id": customer.id, "type": "CUSTOMER"},
            "content": {"type": "EMAIL", "from": address, "to": [parseaddr(recipient)[1] or recipient],
                        "subject": subject, "content": body},
            "_messageId": message_id,      # kept for the sandbox's own checks; not in the vendor's shape
        })
        state.conversations[conversation.id] = conversation


def record_inbound_sms(app: web.Application, sender: str, recipient: str, body: str, arrived: datetime) -> None:
    """A support number received a text (at `arrived`): a new OPEN conversation of the sender's
    customer profile (made on first contact, known by phone), holding one SMS item."""
    state = app[CONVERSATIONS]
    with state.lock:
        customer = state.customer_by_phone(sender)
        if customer is None:
            customer = Customer(_new_id(), "", arrived, arrived, phone=sender)
            state.customers[customer.id] = customer
        customer.updated_at = max(customer.updated_at, arrived)
        conversation = Conversation(_new_id(), customer.id, created_at=arrived)
        conversation.items.append({
            "id": _new_id(), "conversationId": conversation.id, "customerId": customer.id,
            "timestamp": _stamp(arrived), "initiator": {"id": customer.id, "type": "CUSTOMER"},
            "content": {"type": "SMS", "from": sender, "to": recipient, "content": body},
        })
        state.conversations[conversation.id] = conversation


# --- the API ---

def _error(status: int, code: str, detail: str, attr: str = "", headers: dict[str, str] | None = None) -> web.Response:
    error = {"attr": attr, "code": code, "detail": detail} if attr else {"code": code, "detail": detail}
    return web.json_response({"errors": [error]}, status=status, headers=headers)


def _admit(request: web.Request) -> tuple[dict[str, str], web.Response | None]:
    """Count the request and apply the vendor's limits: its rate-limit headers, and a refusal if any."""
    state = request.app[CONVERSATIONS]
    platform = request.app[STATE]
    now = time.monotonic()
    with state.lock:
        state.requests[request.method] += 1
        recent = state.recent.setdefault(request.method, deque())
        while recent and recent[0] <= now - 1.0:
            recent.popleft()
        recent.append(now)
        state.busiest_second[request.method] = max(state.busiest_second[request.method], len(recent))
        total = sum(state.requests.values())
        headers = {"Ratelimit-Limit-Second": str(RATE_PER_SECOND),
                   "Ratelimit-Remaining-Second": str(max(0, RATE_PER_SECOND - len(recent)))}
        if total <= int(platform.faults.arg("api-429")) or len(recent) > RATE_PER_SECOND:
            state.answered_429 += 1
            return headers, _error(429, "rate_limited", "Too Many Requests", headers=headers)
    if not platform.api_authorized(request):
        return headers, _error(401, "unauthorized", "Unauthorized",
                               headers={**headers, "WWW-Authenticate": 'Basic realm="api"'})
    return headers, None


def _conversation(request: web.Request) -> Conversation | None:
    state = request.app[CONVERSATIONS]
    conversation = state.conversations.get(request.match_info["conversationId"])
    return conversation if conversation and state.visible(conversation) else None


def _not_found(headers: dict[str, str], what: str = "conversation") -> web.Response:
    return _error(404, "not_exist", f"{what} does not exist", headers=headers)


async def find_customers(request: web.Request) -> web.Response:
    headers, refused = _admit(request)
    if refused:
        return refused
    given = [name for name in ("email", "phoneNumber", "externalCustomerId") if request.query.get(name)]
    if len(given) != 1:
        return _error(400, "invalid", "give exactly one of email, phoneNumber, externalCustomerId", headers=headers)
    state = request.app[CONVERSATIONS]
    if given == ["externalCustomerId"]:
        return web.json_response([], headers=headers)          # the sandbox's customers have none
    now = datetime.now(timezone.utc)
    wanted = request.query.get("email", "").lower() or request.query["phoneNumber"]
    with state.lock:
        found = [c for c in state.customers.values()
                 if c.created_at <= now and wanted in (c.email.lower(), c.phone) and wanted]
        found.sort(key=lambda c: c.updated_at, reverse=True)
        return web.json_response([c.json() for c in found[:MAX_CUSTOMERS]], headers=headers)


async def customer_conversations(request: web.Request) -> web.Response:
    headers, refused = _admit(request)
    if refused:
        return refused
    state = request.app[CONVERSATIONS]
    with state.lock:
        customer = state.customers.get(request.match_info["customerId"])
        if customer is None or customer.created_at > datetime.now(timezone.utc):
            return _not_found(headers, "customer")
        listed = sorted((c for c in state.conversations.values()
                         if c.customer_id == customer.id and state.visible(c)), key=lambda c: c.created_at)
        if len(listed) > MAX_CONVERSATIONS:
            headers = {**headers, "Gladly-Limited-Data": "true"}
        return web.json_response([c.json() for c in listed[:MAX_CONVERSATIONS]], headers=headers)


async def get_conversation(request: web.Request) -> web.Response:
    headers, refused = _admit(request)
    if refused:
        return refused
    with request.app[CONVERSATIONS].lock:
        conversation = _conversation(request)
        return web.json_response(conversation.json(), headers=headers) if conversation else _not_found(headers)


async def conversation_items(request: web.Request) -> web.Response:
    headers, refused = _admit(request)
    if refused:
        return refused
    with request.app[CONVERSATIONS].lock:
        conversation = _conversation(request)
        if conversation is None:
            return _not_found(headers)
        items = [{key: value for key, value in item.items() if not key.startswith("_")} for item in conversation.items]
        return web.json_response(items, headers=headers)


def _api_item(conversation: Conversation, content: dict[str, Any]) -> dict[str, Any]:
    """An item the API user added (a note, a topic, a status change) to the conversation's timeline."""
    item = {"id": _new_id(), "conversationId": conversation.id, "customerId": conversation.customer_id,
            "timestamp": _stamp(datetime.now(timezone.utc)), "initiator": {"id": "sandbox-api-user", "type": "API"},
            "content": content}
    conversation.items.append(item)
    return item


async def _json_body(request: web.Request) -> dict[str, Any] | None:
    try:
        body = await request.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


async def add_note(request: web.Request) -> web.Response:
    headers, refused = _admit(request)
    if refused:
        return refused
    body = await _json_body(request)
    content = body.get("content") if body else None
    text = content.get("body") if isinstance(content, dict) else None
    if not isinstance(text, str) or not text.strip():
        return _error(400, "blank", "content.body cannot be blank", attr="content.body", headers=headers)
    with request.app[CONVERSATIONS].lock:
        conversation = _conversation(request)
        if conversation is None:
            return _not_found(headers)
        note = _api_item(conversation, {"type": "CONVERSATION_NOTE", "body": text})
    location = f"/api/v1/conversations/{conversation.id}/notes/{note['id']}"
    return web.Response(status=201, headers={**headers, "Location": location})


async def add_topics(request: web.Request) -> web.Response:
    headers, refused = _admit(request)
    if refused:
        return refused
    body = await _json_body(request)
    topic_ids = body.get("topicIds") if body else None
    if not isinstance(topic_ids, list) or not topic_ids or not all(isinstance(t, str) and t for t in topic_ids):
        return _error(400, "blank", "topicIds cannot be blank", attr="topicIds", headers=headers)
    with request.app[CONVERSATIONS].lock:
        conversation = _conversation(request)
        if conversation is None:
            return _not_found(headers)
        added = [t for t in dict.fromkeys(topic_ids) if t not in conversation.topic_ids]
        if added:
            conversation.topic_ids += added
            _api_item(conversation, {"type": "TOPIC_CHANGE", "addedTopicIds": added})
    return web.Response(status=204, headers=headers)


async def update_conversation(request: web.Request) -> web.Response:
    """Only the status part of the vendor's update: close (or reopen) the conversation."""
    headers, refused = _admit(request)
    if refused:
        return refused
    body = await _json_body(request)
    status = body.get("status") if body else None
    value = status.get("value") if isinstance(status, dict) else None
    if value not in ("OPEN", "CLOSED"):
        return _error(400, "blank", "'value' cannot be blank when updating status", attr="status.value",
                      headers=headers)
    with request.app[CONVERSATIONS].lock:
        conversation = _conversation(request)
        if conversation is None:
            return _not_found(headers)
        if value == "CLOSED" and conversation.status != "CLOSED":
            if conversation.waiting_for_reply() and status.get("force") is not True:
                return _error(400, "invalid_state", "cannot close conversation, customer waiting for response, "
                              "set 'status.force' to true to override", headers=headers)
            conversation.closed_at = datetime.now(timezone.utc)
        elif value == "OPEN":
            conversation.closed_at = None
        if conversation.status != value:
            conversation.status = value
            _api_item(conversation, {"type": "CONVERSATION_STATUS_CHANGE", "status": value})
    return web.Response(status=204, headers=headers)


def setup(app: web.Application, sandbox: PartSetup) -> None:
    app[CONVERSATIONS] = ConversationsState()


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/v1/customer-profiles", find_customers)
    app.router.add_get("/api/v1/customers/{customerId}/conversations", customer_conversations)
    app.router.add_get("/api/v1/conversations/{conversationId}", get_conversation)
    app.router.add_patch("/api/v1/conversations/{conversationId}", update_conversation)
    app.router.add_get("/api/v1/conversations/{conversationId}/items", conversation_items)
    app.router.add_post("/api/v1/conversations/{conversationId}/notes", add_note)
    app.router.add_post("/api/v1/conversations/{conversationId}/topics", add_topics)
