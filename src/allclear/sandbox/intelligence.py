"""The sandbox's Twilio Conversational Intelligence (v2): transcripts of the voice part's recordings.

Enough for the voice item's `conversational_intelligence` speech source, through the official SDK:

    POST /v2/Transcripts                       ServiceSid, Channel={"media_properties": {"source_sid": "RE…"}}
    GET  /v2/Transcripts/{Sid}                 queued -> in-progress -> completed
    GET  /v2/Transcripts/{Sid}/Sentences       the recording's words, a sentence each

Authenticated as the voice part's account (HTTP Basic). The service is the target's
`intelligence_service_sid` (a made-up one when it names none). Shapes follow Twilio's Intelligence
v2 reference: ISO 8601 dates, `meta` list envelopes, Twilio's error JSON.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from urllib.parse import urlencode

from aiohttp import web

from allclear.sandbox.parts import FaultKinds, PartSetup
from allclear.sandbox.platform import STATE
from allclear.sandbox.voice import VOICE
from allclear.sandbox.voice_resources import TwilioError, int_param, new_sid

FAULTS: FaultKinds = {}
ORDER = 41
HOST = "https://intelligence.twilio.com"
STAYS_UP_IN_MAINTENANCE = ("/v2/Transcripts",)      # Twilio's, not the vendor's


@dataclass
class Transcript:
    sid: str
    account_sid: str
    service_sid: str
    recording_sid: str
    channel: dict
    text: str
    created: float
    started: float
    completed: float

    def status(self, now: float) -> str:
        return "completed" if now >= self.completed else "in-progress" if now >= self.started else "queued"

    def to_json(self, now: float) -> dict:
        url = f"{HOST}/v2/Transcripts/{self.sid}"
        return {
            "account_sid": self.account_sid, "service_sid": self.service_sid, "sid": self.sid,
            "date_created": _iso(self.created), "date_updated": _iso(min(now, self.completed)),
            "status": self.status(now), "channel": self.channel, "data_logging": False, "language_code": "en-US",
            "customer_key": None, "media_start_time": None, "duration": None, "url": url, "redaction": False,
            "encryption_credential_sid": None,
            "links": {"sentences": f"{url}/Sentences", "media": f"{url}/Media",
                      "operator_results": f"{url}/OperatorResults"},
        }

    def sentences(self) -> list[dict]:
        said = [part.strip() + "." for part in re.split(r"[.?!]", self.text) if part.strip()]
        return [{"media_channel": 1, "sentence_index": index, "start_time": None, "end_time": None,
                 "transcript": sentence, "sid": new_sid("GX"), "confidence": "0.91", "words": None}
                for index, sentence in enumerate(said)]


@dataclass
class IntelligenceState:
    services: set[str] = field(default_factory=set)
    queue_s: float = 0.2
    transcribe_s: float = 0.6
    transcripts: dict[str, Transcript] = field(default_factory=dict)


INTELLIGENCE: web.AppKey[IntelligenceState] = web.AppKey("intelligence_state", IntelligenceState)


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(int(moment), timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _guarded(handler):
    async def guarded(request: web.Request) -> web.Response:
        try:
            if request.app[STATE].faults.active("twilio-auth") or not request.app[VOICE].authorized(request):
                raise TwilioError(401, 20003, "Authenticate")
            return await handler(request)
        except TwilioError as exc:
            return exc.response()
    return guarded


def _transcript(request: web.Request) -> Transcript:
    found = request.app[INTELLIGENCE].transcripts.get(request.match_info["sid"])
    if found is None or found.account_sid != request.app[VOICE].account_sid:
        raise TwilioError(404, 20404, f"The requested resource {request.path} was not found")
    return found


async def create_transcript(request: web.Request) -> web.Response:
    form, state, voice, now = await request.post(), request.app[INTELLIGENCE], request.app[VOICE], time.time()
    service_sid = str(form.get("ServiceSid", ""))
    if not service_sid or "Channel" not in form:
        raise TwilioError(400, 20001, "Missing required parameter ServiceSid or Channel in the post body")
    if service_sid not in state.services:
        raise TwilioError(404, 20404, f"The requested resource /v2/Services/{service_sid} was not found")
    try:
        channel = json.loads(str(form["Channel"]))
        source_sid = channel["media_properties"]["source_sid"]
    except (ValueError, KeyError, TypeError):
        raise TwilioError(400, 20001, "Invalid Channel: media_properties.source_sid is required") from None
    recording = next((r for r in voice.recordings(now) if r.sid == source_sid), None)
    if recording is None or now < recording.completed:
        raise TwilioError(400, 20001, f"Invalid Channel: {source_sid} is not a completed recording of this account")
    transcript = Transcript(new_sid("GT"), voice.account_sid, service_sid, source_sid, channel, recording.spoken,
                            now, now + state.queue_s, now + state.queue_s + state.transcribe_s)
    state.transcripts[transcript.sid] = transcript
    return web.json_response(transcript.to_json(now), status=201)


async def fetch_transcript(request: web.Request) -> web.Response:
    return web.json_response(_transcript(request).to_json(time.time()))


async def list_sentences(request: web.Request) -> web.Response:
    transcript = _transcript(request)
    if transcript.status(time.time()) != "completed":
        raise TwilioError(404, 20404, f"The requested resource {request.path} was not found")
    size = min(max(int_param(request.query.get("PageSize"), 50), 1), 5000)
    url = f"{HOST}{request.path}?{urlencode({'PageSize': size, 'Page': 0})}"
    sentences = transcript.sentences()[:size]
    return web.json_response({"sentences": sentences, "meta": {
        "page": 0, "page_size": size, "first_page_url": url, "previous_page_url": None, "url": url,
        "next_page_url": None, "key": "sentences"}})


def setup(app: web.Application, sandbox: PartSetup) -> None:
    voice = sandbox.target.voice
    service = voice.intelligence_service_sid if voice and voice.intelligence_service_sid else new_sid("GA")
    app[INTELLIGENCE] = IntelligenceState(services={service})


def add_routes(app: web.Application) -> None:
    app.router.add_post("/v2/Transcripts", _guarded(create_transcript))
    app.router.add_get("/v2/Transcripts/{sid}", _guarded(fetch_transcript))
    app.router.add_get("/v2/Transcripts/{sid}/Sentences", _guarded(list_sentences))
