"""The sandbox voice API's resources as Twilio shapes them: Call, Recording, Transcription, list pages, errors.

Field names, SID formats, RFC 2822 dates and list envelopes follow Twilio's OpenAPI spec
(twilio_api_v2010.json); tests/test_sandbox_voice.py validates them against it. Each resource
keeps its timeline (epoch seconds) rather than a status, so that any read renders the status of
that moment and nothing has to run in the background.
"""

from __future__ import annotations

import array
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import format_datetime
from urllib.parse import urlencode

from aiohttp import web

from allclear.sandbox.ivr import RATE, ulaw_wav

API_VERSION = "2010-04-01"
# Twilio still stamps transcriptions with the old API version: every example in its spec does.
TRANSCRIPTION_API_VERSION = "2008-08-01"
# Absolute URLs (media_url) name Twilio's own host, as Twilio's do; the probe's client rebases them.
TWILIO_HOST = "https://api.twilio.com"
ENDED = {"completed", "busy", "no-answer", "failed", "canceled"}
CALL_SUBRESOURCES = {
    "notifications": "Notifications", "recordings": "Recordings", "payments": "Payments", "events": "Events",
    "siprec": "Siprec", "streams": "Streams", "transcriptions": "Transcriptions",
    "user_defined_message_subscriptions": "UserDefinedMessageSubscriptions",
    "user_defined_messages": "UserDefinedMessages",
}


def new_sid(prefix: str) -> str:
    """A Twilio SID: two letters for the kind (AC, CA, RE, TR, PN) and 32 hex digits."""
    return prefix + secrets.token_hex(16)


def rfc2822(moment: float | None) -> str | None:
    """Twilio's date format, to the second: "Tue, 10 Aug 2010 08:02:17 +0000"."""
    return None if moment is None else format_datetime(datetime.fromtimestamp(int(moment), timezone.utc))


def seconds(span: float) -> str:
    """Durations are strings of whole seconds."""
    return str(max(0, round(span)))


def formatted(number: str) -> str:
    """Twilio's display form: "(415) 867-5309" for North American numbers, E.164 for the rest."""
    digits = number[2:]
    if number.startswith("+1") and len(digits) == 10 and digits.isdigit():
        return f"({digits[:3]}) {digits[3:6]}-{digits[6:]}"
    return number


class TwilioError(Exception):
    """An API error, answered as Twilio's error JSON, which the SDK turns into `TwilioRestException`."""

    def __init__(self, status: int, code: int, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message

    def response(self) -> web.Response:
        body = {"code": self.code, "message": self.message,
                "more_info": f"https://www.twilio.com/docs/errors/{self.code}", "status": self.status}
        headers = {"WWW-Authenticate": 'Basic realm="Twilio API"'} if self.status == 401 else None
        return web.json_response(body, status=self.status, headers=headers)


@dataclass
class Recording:
    """A recording of part of a call; if asked, its transcription (one per recording) comes after it."""

    sid: str
    account_sid: str
    call_sid: str
    source: str  # "RecordVerb" (a <Record> in the TwiML) or "OutboundAPI" (Record=true on create)
    started: float
    ended: float
    processing_s: float  # from the end of the recording to `completed`
    transcript: str | None = None  # what the line said ("" for nothing); None when no transcription was asked for
    transcribe_s: float = 0.0  # from the recording's completion to the transcription's
    transcription_sid: str = field(default_factory=lambda: new_sid("TR"))
    audio: array.array = field(default_factory=lambda: array.array("h"))  # what the line played from answer on
    spoken: str = ""               # the words in it (what any transcription of it finds)

    def media(self) -> bytes:
        """The recording's WAV: the line's audio from `started` to `ended` (μ-law, 8 kHz)."""
        return ulaw_wav(self.audio[: int((self.ended - self.started) * RATE)])

    @property
    def completed(self) -> float:
        return self.ended + self.processing_s

    def visible(self, now: float) -> bool:
        return now >= self.ended

    def transcribed(self, now: float) -> bool:
        """Whether the transcription exists yet (it appears when the recording completes)."""
        return self.transcript is not None and now >= self.completed

    def uri(self, under_call: bool) -> str:
        parent = f"/Calls/{self.call_sid}" if under_call else ""
        return f"/{API_VERSION}/Accounts/{self.account_sid}{parent}/Recordings/{self.sid}.json"

    def to_json(self, now: float, under_call: bool = False) -> dict:
        """`api.v2010.account.recording`, or `...call.call_recording` when listed under its call."""
        body = {
            "account_sid": self.account_sid, "api_version": API_VERSION, "call_sid": self.call_sid,
            "conference_sid": None, "date_created": rfc2822(self.ended),
            "date_updated": rfc2822(self.completed if now >= self.completed else self.ended),
            "start_time": rfc2822(self.started), "duration": seconds(self.ended - self.started),
            "sid": self.sid, "price": None, "price_unit": "USD",
            "status": "completed" if now >= self.completed else "processing",
            "channels": 1, "source": self.source, "error_code": None,
            "uri": self.uri(under_call), "encryption_details": None,
        }
        if under_call:
            return {**body, "track": "both"}
        base = f"/{API_VERSION}/Accounts/{self.account_sid}/Recordings/{self.sid}"
        return {**body, "media_url": f"{TWILIO_HOST}{base}",
                "subresource_uris": {"add_on_results": f"{base}/AddOnResults.json",
                                     "transcriptions": f"{base}/Transcriptions.json"}}

    def transcription_json(self, now: float) -> dict:
        """`api.v2010.account.transcription` (the same fields under a recording); text once completed."""
        done = now >= self.completed + self.transcribe_s
        return {
            "account_sid": self.account_sid, "api_version": TRANSCRIPTION_API_VERSION,
            "date_created": rfc2822(self.completed),
            "date_updated": rfc2822(self.completed + self.transcribe_s if done else self.completed),
            "duration": seconds(self.ended - self.started), "price": None, "price_unit": "USD",
            "recording_sid": self.sid, "sid": self.transcription_sid,
            "status": ("completed" if self.transcript else "failed") if done else "in-progress",
            "transcription_text": (self.transcript or None) if done else None, "type": "fast",
            "uri": f"/{API_VERSION}/Accounts/{self.account_sid}/Transcriptions/{self.transcription_sid}.json",
        }


@dataclass
class Call:
    """An outbound-api call: queued until `dialed`, ringing until `answered` (if ever), `final` at `ended`."""

    sid: str
    account_sid: str
    to: str
    from_: str
    phone_number_sid: str
    created: float
    dialed: float
    answered: float | None
    ended: float
    final: str  # "completed" when answered, else "busy", "no-answer", "failed" or "canceled"
    recordings: list[Recording] = field(default_factory=list)

    def status(self, now: float) -> str:
        if now >= self.ended:
            return self.final
        if now < self.dialed:
            return "queued"
        return "in-progress" if self.answered is not None and now >= self.answered else "ringing"

    def hang_up(self, now: float, wanted: str) -> None:
        """`Status=completed` hangs up any live call; `canceled` only one not yet answered.

        A call hung up before it was answered ends `canceled`, as Twilio's call status values define it.
        """
        status = self.status(now)
        if status in ENDED or (wanted == "canceled" and status == "in-progress"):
            return
        if status != "in-progress":
            self.answered, self.final = None, "canceled"
        self.ended = now
        self.recordings = [r for r in self.recordings if self.answered is not None and r.started < now]
        for recording in self.recordings:
            recording.ended = min(recording.ended, now)

    def to_json(self, now: float) -> dict:
        """`api.v2010.account.call`; end_time and duration stay empty unless the call completed (spec)."""
        events = [t for t in (self.created, self.dialed, self.answered, self.ended) if t is not None and t <= now]
        done = now >= self.ended and self.final == "completed" and self.answered is not None
        base = f"/{API_VERSION}/Accounts/{self.account_sid}/Calls/{self.sid}"
        return {
            "account_sid": self.account_sid, "answered_by": None, "api_version": API_VERSION,
            "caller_name": None, "date_created": rfc2822(self.created), "date_updated": rfc2822(max(events)),
            "direction": "outbound-api", "duration": seconds(self.ended - self.answered) if done else None,
            "end_time": rfc2822(self.ended) if done else None, "forwarded_from": None,
            "from": self.from_, "from_formatted": formatted(self.from_), "group_sid": None,
            "parent_call_sid": None, "phone_number_sid": self.phone_number_sid, "price": None,
            "price_unit": "USD", "queue_time": str(round((self.dialed - self.created) * 1000)),
            "sid": self.sid, "start_time": rfc2822(self.dialed) if self.dialed <= min(now, self.ended) else None,
            "status": self.status(now),
            "subresource_uris": {name: f"{base}/{path}.json" for name, path in CALL_SUBRESOURCES.items()},
            "to": self.to, "to_formatted": formatted(self.to), "trunk_sid": None, "uri": f"{base}.json",
        }


def int_param(text: str | None, default: int) -> int:
    """A number from a query string or form; absent or malformed falls back to Twilio's default."""
    try:
        return int(text) if text else default
    except ValueError:
        return default


def page(request: web.Request, key: str, items: list[dict], filters: dict[str, str] | None = None) -> web.Response:
    """A list page in Twilio's envelope; `PageSize` (default 50) and `Page` pick the slice."""
    size = min(max(int_param(request.query.get("PageSize"), 50), 1), 1000)
    number = max(int_param(request.query.get("Page"), 0), 0)

    def uri(at: int) -> str:
        return f"{request.path}?{urlencode({**(filters or {}), 'PageSize': size, 'Page': at})}"

    start = number * size
    chosen = items[start:start + size]
    return web.json_response({
        key: chosen, "end": start + max(len(chosen) - 1, 0), "first_page_uri": uri(0),
        "next_page_uri": uri(number + 1) if len(items) > start + size else None,
        "page": number, "page_size": size, "previous_page_uri": uri(number - 1) if number else None,
        "start": start, "uri": uri(number),
    })
