"""The sandbox's voice API speaks Twilio: the official SDK places a probe call, faults do what they say,
and every JSON body agrees with Twilio's OpenAPI spec (through the committed extract in tests/data)."""

from __future__ import annotations

import asyncio
import copy
import importlib.util
import json
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path

import httpx
import jsonschema
import pytest
from aiohttp import web
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from allclear.probes.audio import read_wav
from allclear.probes.twilio_client import RebasedHttpClient
from allclear.sandbox import ivr, voice, voice_resources
from allclear.sandbox.faults import Switchboard, parse_fault
from allclear.sandbox.platform import STATE, PlatformState
from allclear.sandbox.voice import VOICE, VoiceState

DATA = Path(__file__).resolve().parent / "data"
EXTRACT = json.loads((DATA / "twilio_voice_schemas.json").read_text(encoding="utf-8"))
TWIML = '<Response><Record maxLength="1" transcribe="true"/></Response>'
LINE_1, LINE_2, NOT_A_LINE = "+14155550100", "+14155550101", "+14155550199"
FROM = "+15005550006"
ENDED = {"completed", "busy", "no-answer", "failed", "canceled"}
# The spec defines no error responses: this is the shape twilio-python's Version.exception() reads.
ERROR_SCHEMA = {
    "type": "object", "required": ["code", "message", "more_info", "status"],
    "properties": {"code": {"type": "integer"}, "message": {"type": "string"},
                   "more_info": {"type": "string", "pattern": r"^https://www\.twilio\.com/docs/errors/\d+$"},
                   "status": {"type": "integer"}},
}


@dataclass
class Served:
    url: str
    voice: VoiceState
    faults: Switchboard

    def switch_on(self, *specs: str) -> None:
        self.faults.clear()
        for spec in specs:
            self.faults.switch_on(parse_fault(spec))


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    """The voice routes alone on a loopback port, in a thread, with timings cut so a call (recording
    one second, TWIML) takes ~1.3 s."""
    faults = Switchboard()
    state = VoiceState(queue_s=0.03, ring_s=0.1, no_answer_s=0.2, processing_s=0.03,
                       transcribe_s=0.06, support_lines=[LINE_1, LINE_2], owned_numbers=[FROM])
    app = web.Application()
    app[STATE] = PlatformState(faults=faults, agents={})
    app[VOICE] = state
    voice.add_routes(app)
    # Started from the loop's own thread: a session's Playwright keeps a loop running in the main thread.
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="voice-sandbox", daemon=True)
    thread.start()
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1)

    async def start() -> None:
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()

    asyncio.run_coroutine_threadsafe(start(), loop).result(timeout=10)
    yield Served(f"http://127.0.0.1:{runner.addresses[0][1]}", state, faults)
    asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout=10)
    loop.close()


@pytest.fixture
def twilio(served: Served) -> Client:
    served.switch_on()
    return Client(served.voice.account_sid, served.voice.auth_token, http_client=RebasedHttpClient(served.url))


def call_to(twilio: Client, to: str = LINE_1, twiml: str = TWIML):
    return twilio.calls.create(to=to, from_=FROM, twiml=twiml, timeout=10, time_limit=30)


def until_ended(twilio: Client, sid: str, budget_s: float = 5.0, created: str | None = None) -> list[str]:
    """Poll the call until it ends; the statuses seen (from `created`, the create's), in order, without repeats."""
    seen: list[str] = [created] if created else []
    deadline = time.monotonic() + budget_s
    while time.monotonic() < deadline:
        status = twilio.calls(sid).fetch().status
        if not seen or seen[-1] != status:
            seen.append(status)
        if status in ENDED:
            return seen
        time.sleep(0.02)
    raise AssertionError(f"call {sid} still {seen[-1]} after {budget_s} s")


def transcript_of(twilio: Client, call_sid: str, budget_s: float = 3.0) -> str:
    deadline = time.monotonic() + budget_s
    while time.monotonic() < deadline:
        for recording in twilio.recordings.list(call_sid=call_sid):
            for transcription in twilio.recordings(recording.sid).transcriptions.list():
                if transcription.status == "completed":
                    return transcription.transcription_text
        time.sleep(0.02)
    raise AssertionError(f"no completed transcription for {call_sid} within {budget_s} s")


# (a) the probe call, through the official SDK

def test_probe_call_records_and_transcribes_the_greeting(twilio):
    call = call_to(twilio)
    assert (call.status, call.direction, call.to) == ("queued", "outbound-api", LINE_1)
    assert call.from_formatted == "(500) 555-0006"
    assert re.fullmatch(r"CA[0-9a-f]{32}", call.sid) and call.answered_by is None
    # Each status a poll saw, in the lifecycle's order (a loaded machine's poll may miss a short one).
    lifecycle = ["queued", "ringing", "in-progress", "completed"]
    seen = until_ended(twilio, call.sid, created=call.status)
    assert seen[0] == "queued" and seen[-1] == "completed" and seen == sorted(seen, key=lifecycle.index)
    done = twilio.calls(call.sid).fetch()
    assert done.start_time and done.end_time and done.end_time >= done.start_time and done.duration is not None

    [recording] = twilio.recordings.list(call_sid=call.sid)
    assert recording.call_sid == call.sid and recording.source == "RecordVerb"
    assert [r.sid for r in twilio.calls(call.sid).recordings.list()] == [recording.sid]
    assert transcript_of(twilio, call.sid) == voice.GREETING
    [transcription] = twilio.recordings(recording.sid).transcriptions.list()
    assert transcription.sid in {t.sid for t in twilio.transcriptions.list()}
    assert twilio.transcriptions(transcription.sid).fetch().transcription_text == voice.GREETING
    assert twilio.recordings(recording.sid).fetch().status == "completed"


def test_a_call_without_record_leaves_no_recording(twilio):
    call = call_to(twilio, twiml="<Response><Say>Hello</Say></Response>")
    assert until_ended(twilio, call.sid)[-1] == "completed"
    assert twilio.recordings.list(call_sid=call.sid) == []


def test_update_completed_hangs_up_an_answered_call(twilio, served):
    call = call_to(twilio, twiml='<Response><Record maxLength="4"/></Response>')
    while twilio.calls(call.sid).fetch().status != "in-progress":
        time.sleep(0.02)
    assert twilio.calls(call.sid).update(status="canceled").status == "in-progress"  # too late to cancel
    assert twilio.calls(call.sid).update(status="completed").status == "completed"
    assert int(twilio.calls(call.sid).fetch().duration) < 4
    assert len(twilio.recordings.list(call_sid=call.sid)) == 1


def test_update_canceled_hangs_up_a_ringing_call(twilio):
    call = call_to(twilio)
    assert twilio.calls(call.sid).update(status="canceled").status == "canceled"
    time.sleep(0.3)
    assert twilio.calls(call.sid).fetch().status == "canceled"
    assert twilio.recordings.list(call_sid=call.sid) == []


def test_time_limit_cuts_the_call_and_its_recording():
    state = VoiceState()
    call = state.place(state.support_lines[0], FROM, '<Response><Record maxLength="5"/></Response>', timeout=60,
                       time_limit=1, record=False, faults=Switchboard())
    assert call.answered is not None and call.ended - call.answered == 1
    assert [r.ended - r.started for r in call.recordings] == [1]


def test_a_probe_call_lasts_as_long_as_it_records_and_the_greeting_fits_the_sandbox_listen():
    """The sandboxes listen 5 s: the whole greeting is said within them, and the call takes about as long."""
    state = VoiceState()
    call = state.place(state.support_lines[0], FROM, '<Response><Record maxLength="5"/></Response>', timeout=60,
                       time_limit=60, record=False, faults=Switchboard())
    assert call.answered is not None and call.ended - call.answered == 5
    spoken = len(ivr.spoken(state.greeting)) / ivr.RATE
    assert ivr.LEAD_S + spoken <= 5 and state.no_answer_s <= 2.0


def test_rebased_client_rewrites_only_the_twilio_api_prefix():
    client = RebasedHttpClient("http://127.0.0.1:1234/")
    assert client.rebase("https://api.twilio.com/2010-04-01/Accounts.json") == "http://127.0.0.1:1234/2010-04-01/Accounts.json"
    assert client.rebase("https://intelligence.twilio.com/v2/Transcripts") == "http://127.0.0.1:1234/v2/Transcripts"
    for other in ("https://api.twilio.com.example.org/x", "https://api.dublin.ie1.twilio.com/x", "https://video.twilio.com/x"):
        assert client.rebase(other) == other


# (b) each fault

@pytest.mark.parametrize(("fault", "to", "status"), [
    ("voice-busy", LINE_1, "busy"),
    ("voice-no-answer", LINE_1, "no-answer"),
    ("voice-line-busy:2", LINE_2, "busy"),
    ("voice-line-busy:2", LINE_1, "completed"),
    (None, NOT_A_LINE, "failed"),
])
def test_call_outcome(twilio, served, fault, to, status):
    served.switch_on(*([fault] if fault else []))
    call = call_to(twilio, to=to)
    seen = until_ended(twilio, call.sid)
    assert seen[-1] == status
    assert ("in-progress" in seen) == (status == "completed")
    fetched = twilio.calls(call.sid).fetch()
    assert (fetched.duration is None) == (status != "completed")


@pytest.mark.parametrize("fault", ["voice-maintenance-recording", "maintenance"])
def test_lines_play_the_maintenance_recording(twilio, served, fault):
    served.switch_on(fault)
    call = call_to(twilio)
    assert until_ended(twilio, call.sid)[-1] == "completed"
    assert transcript_of(twilio, call.sid) == voice.MAINTENANCE_TEXT


def test_dead_air_leaves_a_silent_recording_whose_transcription_fails(twilio, served):
    served.switch_on("voice-dead-air")
    call = call_to(twilio)
    until_ended(twilio, call.sid)
    [recording] = twilio.recordings.list(call_sid=call.sid)
    deadline = time.monotonic() + 3
    while not (transcriptions := twilio.recordings(recording.sid).transcriptions.list()) or \
            transcriptions[0].status == "in-progress":
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert (transcriptions[0].status, transcriptions[0].transcription_text) == ("failed", None)


# (c) the recording's media, as Twilio serves it

def wav_of(api: httpx.Client, recording_sid: str, suffix: str = ".wav") -> httpx.Response:
    return api.get(f"/Recordings/{recording_sid}{suffix}", follow_redirects=True)


def test_a_recording_is_served_as_wav_through_a_signed_redirect_without_credentials(api, twilio):
    call = call_to(twilio)
    until_ended(twilio, call.sid)
    [recording] = twilio.recordings.list(call_sid=call.sid)
    while twilio.recordings(recording.sid).fetch().status != "completed":
        time.sleep(0.02)
    first = api.get(f"/Recordings/{recording.sid}.wav")
    assert first.status_code == 302 and "Signature=" in first.headers["Location"]
    for suffix in (".wav", ""):
        served = wav_of(api, recording.sid, suffix)
        assert served.status_code == 200 and served.headers["Content-Type"] == "audio/x-wav"
        audio = read_wav(served.content)
        assert audio.rate == 8000 and audio.seconds == pytest.approx(1.0, abs=0.01)
    signed = str(first.url.join(first.headers["Location"]))
    assert httpx.get(signed).status_code == 200                   # the signature alone lets it in
    assert httpx.get(signed.replace("Signature=", "Signature=0")).status_code == 403


def test_a_recording_still_processing_has_no_media_and_media_needs_credentials(api, served, twilio):
    usual, served.voice.processing_s = served.voice.processing_s, 60   # stays processing on a slow machine
    try:                                                                # (at 0.03 s it raced the fetch)
        call = call_to(twilio, twiml='<Response><Record maxLength="2"/></Response>')
        while not twilio.recordings.list(call_sid=call.sid):
            time.sleep(0.02)
        [recording] = twilio.recordings.list(call_sid=call.sid)
    finally:
        served.voice.processing_s = usual
    assert recording.status == "processing"
    assert wav_of(api, recording.sid).status_code == 404
    anonymous = httpx.get(f"{api.base_url}/Recordings/{recording.sid}.wav")
    assert (anonymous.status_code, anonymous.json()["code"]) == (401, 20003)


def test_twilio_auth_fault_rejects_the_credentials(twilio, served):
    served.switch_on("twilio-auth")
    with pytest.raises(TwilioRestException) as refused:
        call_to(twilio)
    assert (refused.value.status, refused.value.code) == (401, 20003)
    assert "Authenticate" in refused.value.msg


def test_wrong_token_or_account_is_refused(served):
    wrong_token = Client(served.voice.account_sid, "0" * 32, http_client=RebasedHttpClient(served.url))
    other_account = Client(voice.new_account_sid(), served.voice.auth_token, http_client=RebasedHttpClient(served.url))
    for client in (wrong_token, other_account):
        with pytest.raises(TwilioRestException) as refused:
            call_to(client)
        assert (refused.value.status, refused.value.code) == (401, 20003)


def test_from_a_number_the_account_does_not_own(twilio):
    with pytest.raises(TwilioRestException) as refused:
        twilio.calls.create(to=LINE_1, from_="+14155550123", twiml=TWIML)
    assert (refused.value.status, refused.value.code) == (400, 21210)
    assert "+14155550123" in refused.value.msg


def test_unknown_call_is_twilio_404(twilio):
    with pytest.raises(TwilioRestException) as missing:
        twilio.calls("CA" + "0" * 32).fetch()
    assert (missing.value.status, missing.value.code) == (404, 20404)


# (c) agreement with Twilio's OpenAPI spec

def _nullable_to_json_schema(node):
    """OpenAPI 3.0 `nullable: true` is a JSON Schema type union with "null"."""
    if isinstance(node, list):
        return [_nullable_to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _nullable_to_json_schema(value) for key, value in node.items()}
    if node.pop("nullable", False):
        if "$ref" in node:
            return {"anyOf": [{"$ref": node.pop("$ref")}, {"type": "null"}], **node}
        if "type" in node:
            node["type"] = [node["type"], "null"]
        if "enum" in node:
            node["enum"] = [*node["enum"], None]
    return node


FORMATS = jsonschema.FormatChecker(formats=())


@FORMATS.checks("date-time-rfc-2822", raises=(TypeError, ValueError))
def _rfc2822(text: object) -> bool:
    pattern = r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d \+0000"
    return not isinstance(text, str) or bool(re.fullmatch(pattern, text) and parsedate_to_datetime(text))


def assert_matches_spec(operation: str, body: dict) -> None:
    document = _nullable_to_json_schema(copy.deepcopy(EXTRACT))
    schema = {**document, "$ref": f"#/operations/{operation}/response"}
    jsonschema.Draft202012Validator(schema, format_checker=FORMATS).validate(body)


@pytest.fixture
def api(served, twilio) -> Iterator[httpx.Client]:
    base = f"{served.url}/2010-04-01/Accounts/{served.voice.account_sid}"
    with httpx.Client(base_url=base, auth=(served.voice.account_sid, served.voice.auth_token)) as http:
        yield http


def test_every_body_matches_the_spec(api, twilio):
    created = api.post("/Calls.json", data={"To": LINE_1, "From": FROM, "Twiml": TWIML, "Timeout": "10"})
    assert created.status_code == 201
    assert_matches_spec("CreateCall", created.json())
    sid = created.json()["sid"]
    assert_matches_spec("FetchCall", api.get(f"/Calls/{sid}.json").json())
    until_ended(twilio, sid)
    transcript_of(twilio, sid)
    assert_matches_spec("FetchCall", api.get(f"/Calls/{sid}.json").json())
    assert_matches_spec("UpdateCall", api.post(f"/Calls/{sid}.json", data={"Status": "completed"}).json())
    assert_matches_spec("ListCall", api.get("/Calls.json").json())
    recordings = api.get("/Recordings.json", params={"CallSid": sid}).json()
    assert_matches_spec("ListRecording", recordings)
    recording_sid = recordings["recordings"][0]["sid"]
    assert_matches_spec("FetchRecording", api.get(f"/Recordings/{recording_sid}.json").json())
    assert_matches_spec("ListCallRecording", api.get(f"/Calls/{sid}/Recordings.json").json())
    assert_matches_spec("FetchCallRecording", api.get(f"/Calls/{sid}/Recordings/{recording_sid}.json").json())
    transcriptions = api.get(f"/Recordings/{recording_sid}/Transcriptions.json").json()
    assert_matches_spec("ListRecordingTranscription", transcriptions)
    transcription_sid = transcriptions["transcriptions"][0]["sid"]
    assert_matches_spec("ListTranscription", api.get("/Transcriptions.json").json())
    assert_matches_spec("FetchTranscription", api.get(f"/Transcriptions/{transcription_sid}.json").json())
    assert_matches_spec("FetchRecordingTranscription",
                        api.get(f"/Recordings/{recording_sid}/Transcriptions/{transcription_sid}.json").json())


def test_list_envelope_pages_like_twilio(api, twilio):
    for _ in range(2):
        call_to(twilio)
    first = api.get("/Calls.json", params={"PageSize": 1}).json()
    assert [first[key] for key in ("page", "page_size", "start", "end", "previous_page_uri")] == [0, 1, 0, 0, None]
    assert first["next_page_uri"].endswith("PageSize=1&Page=1") and len(first["calls"]) == 1


def test_errors_have_twilio_error_shape(api):
    refused = api.post("/Calls.json", data={"To": LINE_1, "From": FROM, "Twiml": TWIML}, auth=("AC" + "0" * 32, "x"))
    missing = api.get(f"/Calls/CA{'0' * 32}.json")
    no_twiml = api.post("/Calls.json", data={"To": LINE_1, "From": FROM})
    for response, status, code in ((refused, 401, 20003), (missing, 404, 20404), (no_twiml, 400, 21205)):
        jsonschema.validate(response.json(), ERROR_SCHEMA)
        assert (response.status_code, response.json()["status"], response.json()["code"]) == (status, status, code)


def test_the_sandbox_reads_exactly_the_params_it_declares_as_the_spec_spells_them():
    source = Path(voice.__file__).read_text(encoding="utf-8")
    read = set(re.findall(r'form(?:\.get\(|\[)"(\w+)"', source))
    assert read == set(voice.CREATE_PARAMS) | set(voice.UPDATE_PARAMS)
    create, update = EXTRACT["operations"]["CreateCall"], EXTRACT["operations"]["UpdateCall"]
    assert set(voice.CREATE_PARAMS) <= set(create["form"]) and set(create["form_required"]) <= set(voice.CREATE_PARAMS)
    assert set(voice.UPDATE_PARAMS) <= set(update["form"])
    source += Path(voice_resources.__file__).read_text(encoding="utf-8")
    queried = set(re.findall(r'request\.query(?:\.get\(|\[)"(\w+)"', source)) | {"To", "From", "Status"}
    queried -= {"Expires", "Signature"}     # the signed media URL's, which is not Twilio's API
    assert queried == {"To", "From", "Status", "CallSid", "PageSize", "Page"}
    listed = EXTRACT["operations"]["ListCall"]["query"] + EXTRACT["operations"]["ListRecording"]["query"]
    assert queried <= set(listed)


def _full_spec() -> Path:
    return Path(__file__).resolve().parents[2] / "shared" / "specs" / "twilio_api_v2010.json"


@pytest.mark.skipif(not _full_spec().is_file(),
                    reason="Twilio's full OpenAPI spec is not beside the repository (../shared/specs/"
                           "twilio_api_v2010.json); the committed extract in tests/data is used as is")
def test_the_committed_extract_is_what_the_spec_gives_now():
    loader = importlib.util.spec_from_file_location("extract_twilio_schemas", DATA / "extract_twilio_schemas.py")
    assert loader and loader.loader
    script = importlib.util.module_from_spec(loader)
    loader.loader.exec_module(script)
    fresh = script.render(json.loads(_full_spec().read_text(encoding="utf-8")))
    assert fresh == (DATA / "twilio_voice_schemas.json").read_text(encoding="utf-8"), (
        "tests/data/twilio_voice_schemas.json is out of date: "
        "run .venv/bin/python tests/data/extract_twilio_schemas.py")
