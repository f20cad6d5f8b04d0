"""The sandbox's texts: Twilio's Messages API (2010-04-01) for the probe's number, and the platform's
SMS side behind each support number.

A text the probe sends to a support number is queued, sent and delivered on a timeline laid out
when it is created (like the voice part's calls: every read renders the status of its moment). The
platform, once it has the text, answers as the faults switched on then say: its maintenance
auto-reply (`sms-maintenance-reply`, or during `maintenance`), nothing at all (`sms-not-routed`:
the text went nowhere), or, healthy, the auto-reply the target expects (none when it expects none);
a text the platform took in becomes a conversation (conversations.py), as an email does.
Replies are messages from the support number to ours (`direction: inbound`), listed by `To`.
Fields, errors and list filters follow Twilio's spec (tests/test_sandbox_messages.py checks them).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

from aiohttp import web

from allclear.sandbox.conversations import record_inbound_sms
from allclear.sandbox.parts import FaultKinds, PartSetup
from allclear.sandbox.platform import STATE
from allclear.sandbox.voice import E164, twilio_endpoint
from allclear.sandbox.voice_resources import API_VERSION, TwilioError, new_sid, page, rfc2822

FAULTS: FaultKinds = {
    "sms-maintenance-reply": (None, "every text to a support number gets the maintenance auto-reply"),
    "sms-not-routed": (None, "texts to the support numbers are delivered but go nowhere (no auto-reply)"),
    "sms-undelivered": (None, "texts to the support numbers are not delivered (Twilio error 30005)"),
}
ORDER = 39                      # before the voice part, whose routes end with a catch-all for the account
MAINTENANCE_REPLY = ("We are currently undergoing a maintenance/upgrade and will be offline from 10.30 PM - "
                     "11 PM US Pacific Time. This message will be delivered after the maintenance window has "
                     "ended, so you may experience a slight delay in response times.")
CREATE_PARAMS = ("To", "From", "MessagingServiceSid", "Body", "MediaUrl", "ContentSid")
LIST_QUERY = ("To", "From", "DateSent", "DateSent<", "DateSent>", "PageSize", "Page")
MAX_BODY = 1600


@dataclass
class Message:
    sid: str
    account_sid: str
    from_: str
    to: str
    body: str
    direction: str                  # outbound-api (ours) | inbound (a reply to our number)
    created: float
    sent: float                     # when it leaves (or, inbound, arrives)
    delivered: float                # ...and when it is delivered, or (`undelivered`) given up
    undelivered: bool = False

    def status(self, now: float) -> str:
        if self.direction == "inbound":
            return "received"
        if now >= self.delivered:
            return "undelivered" if self.undelivered else "delivered"
        return "sent" if now >= self.sent else "queued"

    def to_json(self, now: float) -> dict:
        """`api.v2010.account.message` as of `now`."""
        base = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{self.sid}"
        status = self.status(now)
        updated = max(t for t in (self.created, self.sent, self.delivered) if t <= now)
        return {
            "account_sid": self.account_sid, "api_version": API_VERSION, "body": self.body,
            "date_created": rfc2822(self.created), "date_sent": rfc2822(self.sent) if status != "queued" else None,
            "date_updated": rfc2822(updated), "direction": self.direction,
            "error_code": 30005 if status == "undelivered" else None,
            "error_message": "Unknown destination handset" if status == "undelivered" else None,
            "from": self.from_, "messaging_service_sid": None, "num_media": "0",
            "num_segments": str(max(1, -(-len(self.body) // 153))), "price": None, "price_unit": "USD",
            "sid": self.sid, "status": status,
            "subresource_uris": {"media": f"{base}/Media.json", "feedback": f"{base}/Feedback.json"},
            "to": self.to, "uri": f"{base}.json",
        }


@dataclass
class TextsState:
    """Texts of the Twilio account the voice part keeps (its SID, token and numbers)."""

    support_numbers: list[str] = field(default_factory=lambda: ["+14155550110"])
    auto_reply: str = ""            # the platform's normal answer to a text; "" for none
    maintenance_reply: str = MAINTENANCE_REPLY
    send_s: float = 0.1             # queued -> sent
    deliver_s: float = 0.2          # sent -> delivered (the platform has it)
    reply_s: float = 0.4            # delivered -> the platform's reply arrives at our number
    messages: dict[str, Message] = field(default_factory=dict)

    def send(self, account_sid: str, from_: str, to: str, body: str, faults) -> tuple[Message, bool]:
        """Our text, and whether the platform took it in (it then becomes a conversation)."""
        now = time.time()
        sent = now + self.send_s
        ours = Message(new_sid("SM"), account_sid, from_, to, body, "outbound-api", now, sent, sent + self.deliver_s,
                       undelivered=to in self.support_numbers and faults.active("sms-undelivered"))
        self.messages[ours.sid] = ours
        if to not in self.support_numbers or ours.undelivered:
            return ours, False
        answer = self._answer(faults)
        if answer:
            arrives = ours.delivered + self.reply_s
            reply = Message(new_sid("SM"), account_sid, to, from_, answer, "inbound", arrives, arrives, arrives)
            self.messages[reply.sid] = reply
        routed = not (faults.active("sms-not-routed") or faults.active("sms-maintenance-reply")
                      or faults.active("maintenance"))      # during the window texts wait in a queue
        return ours, routed

    def _answer(self, faults) -> str:
        if faults.active("sms-maintenance-reply") or faults.active("maintenance"):
            return self.maintenance_reply
        if faults.active("sms-not-routed"):
            return ""
        return self.auto_reply


TEXTS: web.AppKey[TextsState] = web.AppKey("texts_state", TextsState)


def _date_filter(text: str) -> datetime:
    """`YYYY-MM-DD` or `YYYY-MM-DDTHH:MM:SSZ`, both GMT, as Twilio's DateSent filters take them."""
    for layout in ("%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%d"):
        try:
            return datetime.strptime(text, layout).replace(tzinfo=timezone.utc)
        except ValueError:
            continue
    raise TwilioError(400, 20001, f"Invalid DateSent: {text}")


async def create_message(request: web.Request, voice) -> web.Response:
    form = await request.post()
    to, from_, body = str(form.get("To", "")), str(form.get("From", "")), str(form.get("Body", ""))
    if not to:
        raise TwilioError(400, 21604, "A 'To' phone number is required.")
    if not (from_ or form.get("MessagingServiceSid")):
        raise TwilioError(400, 21603, "A 'From' phone number is required.")
    if not (body or form.get("MediaUrl") or form.get("ContentSid")):
        raise TwilioError(400, 21602, "Message body is required.")
    if not E164.match(to):
        raise TwilioError(400, 21211, f"Invalid 'To' Phone Number: {to}")
    if len(body) > MAX_BODY:
        raise TwilioError(400, 21617, "The concatenated message body exceeds the 1600 character limit.")
    if from_ not in voice.owned_numbers:
        raise TwilioError(400, 21606, f"The From phone number {from_} is not a valid, SMS-capable inbound phone "
                                      "number or short code for your account.")
    texts = request.app[TEXTS]
    message, routed = texts.send(voice.account_sid, from_, to, body, request.app[STATE].faults)
    if routed:
        record_inbound_sms(request.app, from_, to, body, datetime.fromtimestamp(message.delivered, timezone.utc))
    return web.json_response(message.to_json(time.time()), status=201)


async def list_messages(request: web.Request, voice) -> web.Response:
    now, query = time.time(), request.query
    chosen = []
    for message in sorted(request.app[TEXTS].messages.values(), key=lambda m: m.created, reverse=True):
        if message.created > now or query.get("To", message.to) != message.to \
                or query.get("From", message.from_) != message.from_:
            continue
        sent = datetime.fromtimestamp(int(message.sent), timezone.utc)
        if "DateSent" in query and sent.date() != _date_filter(query["DateSent"]).date():
            continue
        if "DateSent>" in query and sent < _date_filter(query["DateSent>"]):
            continue
        if "DateSent<" in query and sent > _date_filter(query["DateSent<"]):
            continue
        chosen.append(message.to_json(now))
    filters = {name: query[name] for name in ("To", "From", "DateSent", "DateSent<", "DateSent>") if name in query}
    return page(request, "messages", chosen, filters)


async def fetch_message(request: web.Request, voice) -> web.Response:
    message = request.app[TEXTS].messages.get(request.match_info["sid"])
    if message is None or message.created > time.time():
        raise TwilioError(404, 20404, f"The requested resource {request.path} was not found")
    return web.json_response(message.to_json(time.time()))


def setup(app: web.Application, sandbox: PartSetup) -> None:
    """The target's support numbers; the platform auto-replies with the target's expected phrase, if any."""
    sms = sandbox.target.sms if sandbox.target.sms and sandbox.target.sms.enabled else None
    if sms is None:
        app[TEXTS] = TextsState()
        return
    auto_reply = f"{sms.expected_reply}. An agent will answer you shortly." if sms.expected_reply else ""
    app[TEXTS] = TextsState(support_numbers=[n.number for n in sms.numbers], auto_reply=auto_reply)


def add_routes(app: web.Application) -> None:
    account = "/2010-04-01/Accounts/{account_sid}"
    app.router.add_post(account + "/Messages.json", twilio_endpoint(create_message))
    app.router.add_get(account + "/Messages.json", twilio_endpoint(list_messages))
    app.router.add_get(account + "/Messages/{sid}.json", twilio_endpoint(fetch_message))
