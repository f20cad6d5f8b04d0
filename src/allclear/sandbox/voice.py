"""The sandbox's voice API: enough of Twilio's REST API (2010-04-01) for the official `twilio` SDK
to place a probe call to a support line and fetch what the line said.

The probe calls a support line from a number its account owns, with inline TwiML `<Record/>`: the
line answers and plays real speech (ivr.py: its greeting, the vendor's maintenance recording, dead
air...), which is recorded; the recording's WAV is served as Twilio serves media (HTTP auth, then a
redirect to a short-lived signed URL), and transcribed when the TwiML asks. How a call goes
(answered, busy, no answer, failed) and what the line plays are decided when it is placed, from the
faults switched on then, and laid out as a timeline that every read compares with the clock (see
voice_resources.py): a fetch shows the status of that moment, and no task outlives the app.
"""

from __future__ import annotations

import array
import base64
import binascii
import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import NamedTuple
from urllib.parse import urlencode
from xml.etree import ElementTree

from aiohttp import web

from allclear.sandbox import ivr
from allclear.sandbox.faults import Switchboard
from allclear.sandbox.parts import FaultKinds, PartSetup
from allclear.sandbox.platform import STATE
from allclear.sandbox.voice_resources import Call, Recording, TwilioError, int_param, new_sid, page

FAULTS: FaultKinds = {
    "voice-busy": (None, "every support line is busy"),
    "voice-no-answer": (None, "no support line answers"),
    "voice-maintenance-recording": (None, "support lines answer with the maintenance recording"),
    "voice-error-recording": (None, "support lines answer with the vendor's \"error processing the call\" message"),
    "voice-dead-air": (None, "support lines answer and say nothing"),
    "voice-greeting-then-maintenance": (None, "the greeting, then the maintenance recording (can't be told apart: "
                                              "inconclusive)"),
    "voice-noise-after-greeting": (None, "the greeting, then hold music and line noise (a healthy line: passes)"),
    "voice-second-voice": (None, "the greeting in another voice (a healthy line: passes)"),
    "voice-line-busy": (int, "only support line N (1-based, in target order) is busy"),
    "twilio-auth": (None, "the voice API rejects the probe's Twilio credentials"),
}
ORDER = 40
MEDIA = "/_twilio-media/recordings"             # where a recording's signed media URL points
STAYS_UP_IN_MAINTENANCE = ("/2010-04-01", MEDIA)     # Twilio's API and media, not the vendor's
GREETING = "Thank you for calling Sandbox Support. Your call may be recorded."
MAINTENANCE_TEXT = "We are currently undergoing system maintenance. Please try again later."
ERROR_TEXT = "We have encountered an error processing the call. Please call back later."
MEDIA_URL_TTL_S = 4 * 3600      # Twilio's signed media URLs last four hours
# The form parameters the sandbox reads, spelled as in Twilio's spec (the tests hold them to it).
CREATE_PARAMS = ("To", "From", "Url", "Twiml", "ApplicationSid", "Timeout", "TimeLimit", "Record")
UPDATE_PARAMS = ("Status",)
E164 = re.compile(r"^\+[1-9]\d{1,14}$")
DEFAULT_TIMEOUT_S = 60  # Twilio's default ring time
DEFAULT_TIME_LIMIT_S = 14400  # and its default maximum call length (4 hours)
DEFAULT_MAX_LENGTH_S = 3600  # <Record maxLength> default


def new_account_sid() -> str:
    return new_sid("AC")


class RecordVerb(NamedTuple):
    max_length_s: float
    transcribe: bool


class LinePlays(NamedTuple):
    """What a line plays when it answers: words in a voice (None: dead air), then quiet or music."""

    text: str | None
    voice: ivr.Voice = ivr.MAIN_VOICE
    after: str = "quiet"

    def audio(self, at_least_s: float) -> array.array:
        return ivr.line_plays(ivr.spoken(self.text, self.voice) if self.text else None, self.after, at_least_s)


@dataclass
class VoiceState:
    """Twilio as the probe sees it: one account, the numbers it owns, the support lines it calls.

    `support_lines` keep the target's order: fault `voice-line-busy:N` makes line N (1-based) busy.
    The timing knobs keep a healthy probe call to a few seconds: the line's speech is the longest
    part. Calls hold their recordings, and recordings their audio and transcription.
    """

    account_sid: str = field(default_factory=new_account_sid)
    auth_token: str = field(default_factory=lambda: secrets.token_hex(16))
    media_key: bytes = field(default_factory=lambda: secrets.token_bytes(16))  # signs media URLs
    owned_numbers: list[str] = field(default_factory=lambda: ["+15005550006"])
    support_lines: list[str] = field(default_factory=lambda: ["+14155550100", "+14155550101"])
    greeting: str = GREETING
    maintenance_text: str = MAINTENANCE_TEXT
    error_text: str = ERROR_TEXT
    greeting_then_maintenance: str = f"Thank you for calling. {MAINTENANCE_TEXT}"   # said within 5 s
    voice: ivr.Voice = ivr.MAIN_VOICE
    queue_s: float = 0.1  # queued before it dials
    ring_s: float = 0.5  # ringing before a line answers (or is busy)
    no_answer_s: float = 2.0  # ringing before giving up, if Timeout is longer
    dead_air_s: float = 6.0  # how long a line that says nothing stays up, unless Record ends first
    twiml_s: float = 1.0  # how long TwiML without <Record> keeps an answered call up (not simulated)
    processing_s: float = 0.25  # from the end of a recording to its `completed`
    transcribe_s: float = 0.5  # from a completed recording to its completed transcription
    calls: dict[str, Call] = field(default_factory=dict)

    def authorized(self, request: web.Request) -> bool:
        scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
        try:
            user, _, password = base64.b64decode(encoded, validate=True).partition(b":")
        except binascii.Error:
            return False
        return (scheme.lower() == "basic" and secrets.compare_digest(user, self.account_sid.encode())
                and secrets.compare_digest(password, self.auth_token.encode()))

    def recordings(self, now: float) -> list[Recording]:
        """Every recording made so far, newest first, as Twilio lists them."""
        made = [r for call in self.calls.values() for r in call.recordings if r.visible(now)]
        return sorted(made, key=lambda r: r.started, reverse=True)

    def place(self, to: str, from_: str, twiml: str | None, timeout: int, time_limit: int, record: bool,
              faults: Switchboard) -> Call:
        """Lay out a new call's timeline from the faults switched on now (what the line plays is made
        first, so that making it does not eat into the call's first seconds)."""
        outcome, plays = self._route(to, faults)
        verb = record_verb(twiml or "")
        audio = plays.audio(at_least_s=min(verb.max_length_s, self.dead_air_s)) if verb else ivr.quiet(0)
        now = time.time()
        dialed = now + self.queue_s
        call = Call(sid=new_sid("CA"), account_sid=self.account_sid, to=to, from_=from_,
                    phone_number_sid="PN" + hashlib.sha256(from_.encode()).hexdigest()[:32],
                    created=now, dialed=dialed, answered=None, ended=dialed, final=outcome)
        if outcome == "busy":
            call.ended = dialed + self.ring_s
        elif outcome == "no-answer":
            call.ended = dialed + min(timeout, self.no_answer_s)
        elif outcome == "completed":
            call.answered = answered = dialed + self.ring_s
            # <Record> listens until maxLength or the line goes quiet; other TwiML is over in `twiml_s`.
            talk = min(verb.max_length_s, len(audio) / ivr.RATE) if verb else self.twiml_s
            call.ended = answered + min(talk, time_limit)
            transcript = (plays.text or "") if verb and verb.transcribe else None
            if verb:
                call.recordings.append(self._new_recording(call, "RecordVerb", audio, transcript, plays.text))
            if record:
                call.recordings.append(self._new_recording(call, "OutboundAPI", audio, None, plays.text))
        self.calls[call.sid] = call
        return call

    def _route(self, to: str, faults: Switchboard) -> tuple[str, LinePlays]:
        """What happens when `to` is dialled: the outcome, and what the line plays if it answers."""
        if to not in self.support_lines:
            return "failed", LinePlays(None)
        line = self.support_lines.index(to) + 1
        if faults.active("voice-busy") or (faults.active("voice-line-busy")
                                            and int(faults.arg("voice-line-busy")) == line):
            return "busy", LinePlays(None)
        if faults.active("voice-no-answer"):
            return "no-answer", LinePlays(None)
        # During the vendor's maintenance its lines play the maintenance recording.
        if faults.active("voice-maintenance-recording") or faults.active("maintenance"):
            return "completed", LinePlays(self.maintenance_text, self.voice)
        if faults.active("voice-error-recording"):
            return "completed", LinePlays(self.error_text, self.voice)
        if faults.active("voice-greeting-then-maintenance"):
            return "completed", LinePlays(self.greeting_then_maintenance, self.voice)
        if faults.active("voice-dead-air"):
            return "completed", LinePlays(None)
        if faults.active("voice-second-voice"):
            return "completed", LinePlays(self.greeting, ivr.SECOND_VOICE)
        after = "music" if faults.active("voice-noise-after-greeting") else "quiet"
        return "completed", LinePlays(self.greeting, self.voice, after)

    def _new_recording(self, call: Call, source: str, audio: array.array, transcript: str | None,
                       spoken: str | None) -> Recording:
        assert call.answered is not None
        return Recording(sid=new_sid("RE"), account_sid=call.account_sid, call_sid=call.sid, source=source,
                         started=call.answered, ended=call.ended, processing_s=self.processing_s,
                         transcript=transcript, transcribe_s=self.transcribe_s, audio=audio, spoken=spoken or "")

    def media_signature(self, sid: str, expires: int) -> str:
        return hmac.new(self.media_key, f"{sid}:{expires}".encode(), hashlib.sha256).hexdigest()


VOICE: web.AppKey[VoiceState] = web.AppKey("voice_state", VoiceState)


def record_verb(twiml: str) -> RecordVerb | None:
    """The first `<Record>` in the TwiML, or None.

    TwiML that does not parse plays no `<Record>`: Twilio reports that as a call-time error (12100),
    not as an API error.
    """
    try:
        verb = next(ElementTree.fromstring(twiml).iter("Record"), None)
    except ElementTree.ParseError:
        return None
    if verb is None:
        return None
    max_length = int_param(verb.get("maxLength"), DEFAULT_MAX_LENGTH_S)
    return RecordVerb(float(max_length), verb.get("transcribe", "").lower() == "true")


def twilio_endpoint(handler):
    """Twilio's checks before any handler: HTTP Basic auth as the account, and the URL names that account."""

    async def guarded(request: web.Request) -> web.Response:
        voice = request.app[VOICE]
        try:
            if (request.app[STATE].faults.active("twilio-auth") or not voice.authorized(request)
                    or request.match_info["account_sid"] != voice.account_sid):
                raise TwilioError(401, 20003, "Authenticate")
            return await handler(request, voice)
        except TwilioError as exc:
            return exc.response()

    return guarded


def _not_found(request: web.Request) -> TwilioError:
    return TwilioError(404, 20404, f"The requested resource {request.path} was not found")


def _call(request: web.Request, voice: VoiceState, key: str = "sid") -> Call:
    call = voice.calls.get(request.match_info[key])
    if call is None:
        raise _not_found(request)
    return call


def _find_recording(request: web.Request, voice: VoiceState, now: float, key: str = "sid") -> Recording:
    found = [r for r in voice.recordings(now) if r.sid == request.match_info[key]]
    if not found:
        raise _not_found(request)
    return found[0]


async def create_call(request: web.Request, voice: VoiceState) -> web.Response:
    form = await request.post()
    to, from_ = str(form.get("To", "")), str(form.get("From", ""))
    if not to:
        raise TwilioError(400, 21201, "No 'To' number is specified")
    if not from_:
        raise TwilioError(400, 21213, "No 'From' number is specified")
    if not (form.get("Url") or form.get("Twiml") or form.get("ApplicationSid")):
        raise TwilioError(400, 21205, "Url parameter is required. For more information, see "
                                      "http://www.twilio.com/docs/api/twiml")
    if not E164.match(to):
        raise TwilioError(400, 21211, f"Invalid 'To' Phone Number: {to}")
    if from_ not in voice.owned_numbers:
        raise TwilioError(400, 21210, f"The source phone number provided, {from_}, is not yet verified for "
                                      "your account. You may only make calls from phone numbers that you've "
                                      "verified or purchased from Twilio.")
    # Twilio ignores Twiml when Url is given too; the sandbox fetches no Url, so such a call just listens.
    twiml = None if form.get("Url") else str(form.get("Twiml", ""))
    call = voice.place(to, from_, twiml, timeout=int_param(str(form.get("Timeout", "")), DEFAULT_TIMEOUT_S),
                       time_limit=int_param(str(form.get("TimeLimit", "")), DEFAULT_TIME_LIMIT_S),
                       record=str(form.get("Record", "")).lower() == "true", faults=request.app[STATE].faults)
    return web.json_response(call.to_json(time.time()), status=201)


async def list_calls(request: web.Request, voice: VoiceState) -> web.Response:
    now = time.time()
    wanted = {name: request.query[name] for name in ("To", "From", "Status") if name in request.query}
    calls = [c.to_json(now) for c in sorted(voice.calls.values(), key=lambda c: c.created, reverse=True)]
    calls = [c for c in calls if all(c[name.lower()] == value for name, value in wanted.items())]
    return page(request, "calls", calls, wanted)


async def fetch_call(request: web.Request, voice: VoiceState) -> web.Response:
    return web.json_response(_call(request, voice).to_json(time.time()))


async def update_call(request: web.Request, voice: VoiceState) -> web.Response:
    """`Status=completed` or `canceled` hangs up; other values and redirects (Url, Twiml) are not simulated."""
    call = _call(request, voice)
    form = await request.post()
    now = time.time()
    if form.get("Status") in ("completed", "canceled"):
        call.hang_up(now, str(form["Status"]))
    return web.json_response(call.to_json(now))


async def list_recordings(request: web.Request, voice: VoiceState) -> web.Response:
    now = time.time()
    call_sid = request.query.get("CallSid")
    made = [r.to_json(now) for r in voice.recordings(now) if call_sid in (None, r.call_sid)]
    return page(request, "recordings", made, {"CallSid": call_sid} if call_sid else None)


async def fetch_recording(request: web.Request, voice: VoiceState) -> web.Response:
    now = time.time()
    return web.json_response(_find_recording(request, voice, now).to_json(now))


async def redirect_to_media(request: web.Request, voice: VoiceState) -> web.Response:
    """`GET …/Recordings/{Sid}` or `.wav`: a completed recording's WAV, as Twilio serves it to an
    authenticated request: a redirect to a signed URL that needs no credentials and expires."""
    now = time.time()
    recording = _find_recording(request, voice, now)
    if now < recording.completed:
        raise _not_found(request)
    expires = int(now) + MEDIA_URL_TTL_S
    signature = voice.media_signature(recording.sid, expires)
    raise web.HTTPFound(f"{MEDIA}/{recording.sid}.wav?{urlencode({'Expires': expires, 'Signature': signature})}")


async def serve_media(request: web.Request) -> web.Response:
    """The signed media URL: no Authorization header, only the signature and its expiry."""
    voice, now, sid = request.app[VOICE], time.time(), request.match_info["sid"]
    expires = int_param(request.query.get("Expires"), 0)
    if expires < now or not hmac.compare_digest(request.query.get("Signature", ""),
                                                voice.media_signature(sid, expires)):
        return web.Response(status=403, text="AccessDenied: the signature is wrong or has expired")
    found = [r for r in voice.recordings(now) if r.sid == sid]
    if not found:
        return web.Response(status=404, text="NoSuchKey")
    return web.Response(body=found[0].media(), content_type="audio/x-wav")


async def list_call_recordings(request: web.Request, voice: VoiceState) -> web.Response:
    call, now = _call(request, voice, "call_sid"), time.time()
    made = [r.to_json(now, under_call=True) for r in voice.recordings(now) if r.call_sid == call.sid]
    return page(request, "recordings", made)


async def fetch_call_recording(request: web.Request, voice: VoiceState) -> web.Response:
    call, now = _call(request, voice, "call_sid"), time.time()
    recording = _find_recording(request, voice, now)
    if recording.call_sid != call.sid:
        raise _not_found(request)
    return web.json_response(recording.to_json(now, under_call=True))


async def list_transcriptions(request: web.Request, voice: VoiceState) -> web.Response:
    now = time.time()
    made = [r.transcription_json(now) for r in voice.recordings(now) if r.transcribed(now)]
    return page(request, "transcriptions", made)


async def list_recording_transcriptions(request: web.Request, voice: VoiceState) -> web.Response:
    now = time.time()
    recording = _find_recording(request, voice, now, "recording_sid")
    made = [recording.transcription_json(now)] if recording.transcribed(now) else []
    return page(request, "transcriptions", made)


async def fetch_transcription(request: web.Request, voice: VoiceState) -> web.Response:
    now = time.time()
    sid = request.match_info["sid"]
    parent = request.match_info.get("recording_sid")
    for recording in voice.recordings(now):
        if recording.transcription_sid == sid and recording.transcribed(now) and parent in (None, recording.sid):
            return web.json_response(recording.transcription_json(now))
    raise _not_found(request)


async def unknown_resource(request: web.Request, voice: VoiceState) -> web.Response:
    raise _not_found(request)


def setup(app: web.Application, sandbox: PartSetup) -> None:
    """The target's Twilio account (its voice table's, else its SMS table's), the numbers it owns and
    the support lines it calls; a default account if the target has neither."""
    target = sandbox.target
    lines = target.voice if target.voice and target.voice.enabled else None
    texts = target.sms if target.sms and target.sms.enabled else None
    if lines:
        ivr.check_tools()        # the lines must be able to speak: say so now, not at the first call
    account = lines or texts
    if account is None:
        app[VOICE] = VoiceState()
        return
    owned = [number for number in (lines and lines.from_number, texts and texts.from_number) if number]
    app[VOICE] = VoiceState(account_sid=account.account_sid, auth_token=sandbox.secret(account.auth_token_env),
                            owned_numbers=list(dict.fromkeys(owned)),
                            support_lines=[line.number for line in lines.lines] if lines else [])


def add_routes(app: web.Application) -> None:
    """Twilio's paths under /2010-04-01; the app needs `app[VOICE]` and `app[STATE]` (for the faults)."""
    account = "/2010-04-01/Accounts/{account_sid}"
    routes = [
        ("POST", "/Calls.json", create_call), ("GET", "/Calls.json", list_calls),
        ("GET", "/Calls/{sid}.json", fetch_call), ("POST", "/Calls/{sid}.json", update_call),
        ("GET", "/Calls/{call_sid}/Recordings.json", list_call_recordings),
        ("GET", "/Calls/{call_sid}/Recordings/{sid}.json", fetch_call_recording),
        ("GET", "/Recordings.json", list_recordings), ("GET", "/Recordings/{sid}.json", fetch_recording),
        ("GET", r"/Recordings/{sid:RE\w+}.wav", redirect_to_media),
        ("GET", r"/Recordings/{sid:RE\w+}", redirect_to_media),
        ("GET", "/Recordings/{recording_sid}/Transcriptions.json", list_recording_transcriptions),
        ("GET", "/Recordings/{recording_sid}/Transcriptions/{sid}.json", fetch_transcription),
        ("GET", "/Transcriptions.json", list_transcriptions),
        ("GET", "/Transcriptions/{sid}.json", fetch_transcription),
        ("*", "/{rest:.*}", unknown_resource),
    ]
    for method, path, handler in routes:
        app.router.add_route(method, account + path, twilio_endpoint(handler))
    app.router.add_get(MEDIA + "/{sid}.wav", serve_media)
