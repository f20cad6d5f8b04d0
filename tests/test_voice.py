"""The voice item: the probe against the sandbox's Twilio-compatible API in-process (it always hangs
up; our account's trouble is ours), what each kind of line is heard to say, and faults end to end."""

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from allclear.config import read_sandbox_template
from allclear.probes.audio import read_wav
from allclear.probes.errors import ProbeError
from allclear.probes.twilio_client import twilio_client
from allclear.probes.voice import SupportLineCall
from allclear.sandbox import Sandbox, parse_fault
from allclear.sandbox.intelligence import INTELLIGENCE
from tests.conftest import SANDBOX_TOML, write_target


@pytest.fixture(scope="module")
def sandbox():
    environ: dict[str, str] = {}
    template = read_sandbox_template(SANDBOX_TOML)
    with Sandbox(template, environ=environ) as running:
        running.settings = template.voice.model_copy(update={"api_base": running.url})
        running.token = environ[template.voice.auth_token_env]
        yield running


def probe(sandbox, folder, fault=None, **changes):
    sandbox.state.faults.clear()
    if fault:
        sandbox.state.faults.switch_on(parse_fault(fault))
    settings = sandbox.settings.model_copy(update=changes)
    return SupportLineCall(twilio_client(settings, sandbox.token), settings, folder, sandbox.token)


def test_healthy_call_is_heard_saying_its_greeting_and_keeps_its_recording(sandbox, tmp_path):
    seen = probe(sandbox, tmp_path).run(sandbox.settings.lines[0])
    assert seen.answered and seen.hearing.decision == "greeting", seen.hearing
    assert seen.hearing.said == "thank you for calling" and "pocketsphinx" in seen.hearing.source
    assert [status for _, status in seen.timeline][:3] == ["queued", "ringing", "in-progress"]
    assert seen.final_status == "completed" and seen.seconds_to_answer < 5
    audio = read_wav(open(seen.recording_file, "rb").read())
    assert audio.rate == 8000 and audio.seconds == pytest.approx(sandbox.settings.listen_s, abs=0.05)
    assert seen.recording_file.startswith(str(tmp_path)) and seen.recording_sid in seen.recording_file


@pytest.mark.parametrize("fault, decision", [
    ("voice-maintenance-recording", "maintenance"),
    ("voice-error-recording", "maintenance"),
    ("voice-dead-air", "silence"),
    ("voice-greeting-then-maintenance", "unclear"),
    ("voice-noise-after-greeting", "greeting"),
    ("voice-second-voice", "greeting"),
])
def test_what_each_line_says_is_decided_from_its_audio_alone(sandbox, tmp_path, fault, decision):
    """No transcript is asked for: the sandbox's lines speak, and the recording is all the probe has."""
    call = probe(sandbox, tmp_path, fault, listen_s=6)
    assert 'transcribe' not in call.twiml() and 'trim="do-not-trim"' in call.twiml()
    seen = call.run(sandbox.settings.lines[0])
    assert seen.hearing.decision == decision, seen.hearing


def test_a_line_heard_through_twilios_transcription(sandbox, tmp_path):
    call = probe(sandbox, tmp_path, "voice-maintenance-recording", speech_source="twilio_transcription")
    assert 'transcribe="true"' in call.twiml()
    heard = call.run(sandbox.settings.lines[0]).hearing
    assert (heard.decision, heard.source) == ("maintenance", "Twilio's transcription")
    assert heard.said.startswith("We are currently undergoing system maintenance")


def test_a_line_heard_through_conversational_intelligence(sandbox, tmp_path):
    [service] = sandbox.app[INTELLIGENCE].services
    for fault, decision in (("voice-error-recording", "maintenance"), (None, "greeting")):
        call = probe(sandbox, tmp_path, fault, speech_source="conversational_intelligence",
                     intelligence_service_sid=service)
        assert "transcribe" not in call.twiml()
        heard = call.run(sandbox.settings.lines[0]).hearing
        assert heard.decision == decision and heard.source.startswith("Twilio Conversational Intelligence (GT")
    assert heard.said == "Thank you for calling Sandbox Support. Your call may be recorded."


def test_an_intelligence_service_that_is_not_there_is_inconclusive(sandbox, tmp_path):
    call = probe(sandbox, tmp_path, speech_source="conversational_intelligence",
                 intelligence_service_sid="GA" + "0" * 32)
    with pytest.raises(ProbeError, match=r"would not transcribe RE\w+ with service GA0+: HTTP 404, error 20404"):
        call.run(sandbox.settings.lines[0])


def test_dead_air_is_decided_by_loudness_whatever_the_source(sandbox, tmp_path):
    heard = probe(sandbox, tmp_path, "voice-dead-air", speech_source="twilio_transcription").run(
        sandbox.settings.lines[0]).hearing
    assert (heard.decision, heard.source) == ("silence", "the recording's loudness")


def test_a_recording_that_never_completes_is_inconclusive_and_the_call_is_hung_up(sandbox, tmp_path):
    call = probe(sandbox, tmp_path, recording_deadline_s=1.0)
    sandbox.voice.processing_s = 60
    try:
        with pytest.raises(ProbeError, match="no completed recording .* within 1 s .*, processing"):
            call.run(sandbox.settings.lines[0])
    finally:
        sandbox.voice.processing_s = 0.25
    [latest, *_] = call.client.calls.list(to=sandbox.settings.lines[0].number, limit=1)
    assert latest.status == "completed"


def test_busy_line_is_observed_not_raised(sandbox, tmp_path):
    seen = probe(sandbox, tmp_path, "voice-busy").run(sandbox.settings.lines[0])
    assert (seen.answered, seen.final_status, seen.hearing) == (False, "busy", None)
    assert seen.problem == "the call ended busy without being answered"


def test_rejected_credentials_are_a_probe_error(sandbox, tmp_path):
    call = probe(sandbox, tmp_path)
    call.client = twilio_client(sandbox.settings, "wrong-token")
    with pytest.raises(ProbeError, match="HTTP 401, error 20003"):
        call.run(sandbox.settings.lines[0])


def test_from_number_we_do_not_own_is_a_probe_error(sandbox, tmp_path):
    with pytest.raises(ProbeError, match="error 21210"):
        probe(sandbox, tmp_path, from_number="+15005550999").run(sandbox.settings.lines[0])


@pytest.mark.slow
@pytest.mark.parametrize("fault, status", [("voice-busy", "busy"), ("voice-no-answer", "no-answer")])
def test_unanswered_lines_fail_with_their_status(run_go, fault, status):
    voice = run_go("--sandbox-fault", fault, checks=("test_voice.py",)).item("voice")
    assert (voice["outcome"], voice["grade"], voice["probes_failed"]) == ("failed", "P1", 2)
    assert f"the call ended {status} without being answered" in voice["probes"][0]["observed"]
    assert voice["probes"][0]["facts"]["call_sid"].startswith("CA")


@pytest.mark.slow
@pytest.mark.parametrize("fault", ["voice-maintenance-recording", "maintenance"])
def test_maintenance_recording_fails_the_line_with_its_recording_as_evidence(run_go, fault):
    result = run_go("--sandbox-fault", fault, checks=("test_voice.py",))
    voice = result.item("voice")
    assert (voice["outcome"], voice["grade"]) == ("failed", "P1")
    probe = voice["probes"][0]
    assert probe["expected"] == "the line's normal greeting"
    assert probe["observed"].startswith("the maintenance recording ('undergoing system maintenance')")
    assert probe["facts"]["heard"]["decision"] == "maintenance"
    [wav] = [path for path in probe["evidence"] if path.endswith(".wav")]
    assert read_wav((result.reports / wav).read_bytes()).rate == 8000
    # In the Allure results: the WAV as audio, and a page whose player holds the recording.
    attached = [a for f in (result.reports / "allure-results").glob("*-result.json")
                for a in json.loads(f.read_text())["attachments"]]
    assert any(a["type"] == "audio/wav" for a in attached)
    players = [a for a in attached if a["name"] == "Listen to the line"]
    page = (result.reports / "allure-results" / players[0]["source"]).read_text()
    assert '<audio controls' in page and "data:audio/wav;base64," in page


@pytest.mark.slow
def test_dead_air_fails_and_an_unclear_line_is_inconclusive(run_go):
    dead = run_go("--sandbox-fault", "voice-dead-air", checks=("test_voice.py",)).item("voice")
    assert (dead["outcome"], dead["grade"]) == ("failed", "P1")
    assert dead["probes"][0]["observed"].startswith("dead air: nothing (dead air); no speech at all")
    both = run_go("--sandbox-fault", "voice-greeting-then-maintenance", checks=("test_voice.py",))
    assert (both.item("voice")["outcome"], both.verdict["verdict"]) == ("inconclusive", "INCONCLUSIVE")
    assert both.item("voice")["probes"][0]["message"].startswith(
        "could not verify: could not tell what the line said: something it could not tell apart (heard both "
        "'thank you for calling' and 'undergoing system maintenance'); greeting +")


@pytest.mark.slow
def test_one_busy_line_of_five_is_p2(run_go, tmp_path):
    lines = [{"name": f"Line {n}", "number": f"+1415555010{n}", "expected_greeting": "Thank you for calling"}
             for n in range(5)]
    result = run_go("--sandbox-fault", "voice-line-busy:2", target=write_target(tmp_path, {"voice.lines": lines}),
                    checks=("test_voice.py",))
    voice = result.item("voice")
    assert (voice["outcome"], voice["grade"], voice["probes_failed"], voice["probes_run"]) == ("failed", "P2", 1, 5)
    assert [p["probe"] for p in voice["probes"] if p["outcome"] == "failed"] == ["Line 1"]


@pytest.mark.slow
def test_twilio_auth_is_inconclusive(run_go):
    result = run_go("--sandbox-fault", "twilio-auth", checks=("test_voice.py",))
    voice = result.item("voice")
    assert (voice["outcome"], voice["grade"], result.verdict["verdict"]) == ("inconclusive", None, "INCONCLUSIVE")
    assert "Twilio refused the probe's account: HTTP 401, error 20003" in voice["probes"][0]["message"]


def test_the_listening_page_plays_the_recording_in_chromium(tmp_path):
    """Allure shows HTML attachments: the page's player loads the whole recording in a real browser."""
    from playwright.async_api import async_playwright

    from allclear.allure_report import listening_page
    from allclear.probes.browser import launch_chromium

    clip = read_wav((Path(__file__).with_name("data") / "voice" / "maintenance.wav").read_bytes())  # μ-law
    page_file = tmp_path / "listen.html"
    page_file.write_text(listening_page(clip, "What Main support line said"), encoding="utf-8")

    async def duration() -> float:
        async with async_playwright() as playwright:
            browser = await launch_chromium(playwright)
            try:
                page = await browser.new_page()
                await page.goto(page_file.as_uri())
                return await page.eval_on_selector("audio", """audio => new Promise((done, fail) => {
                    if (audio.readyState >= 1) return done(audio.duration);
                    audio.onloadedmetadata = () => done(audio.duration);
                    audio.onerror = () => fail(new Error("the audio did not load: " + audio.error.code));
                })""")
            finally:
                await browser.close()

    with ThreadPoolExecutor(1) as own_loop:       # the session may keep a Playwright loop in this thread
        assert own_loop.submit(asyncio.run, duration()).result() == pytest.approx(clip.seconds, abs=0.01)


def test_the_local_recognizer_needs_every_line_to_name_its_greeting():
    """It can miss a maintenance recording under noise or music; a greeting it must hear turns that into
    a failure, never a pass."""
    from pydantic import ValidationError

    from allclear.items.voice import VoiceCheck

    lines = [{"number": "+14155550100", "expected_greeting": "Thank you for calling"},
             {"number": "+14155550101", "name": "Priority line"}]
    settings = {"account_sid": "AC" + "0" * 32, "auth_token_env": "TOKEN", "from_number": "+15005550006",
                "lines": lines}
    with pytest.raises(ValidationError, match=r"every line needs expected_greeting .*missing for Priority line"):
        VoiceCheck(**settings)
    assert VoiceCheck(**settings, speech_source="twilio_transcription").lines[1].expected_greeting == ""


def test_a_sandbox_whose_lines_cannot_speak_says_what_to_install_before_it_starts(monkeypatch):
    from allclear.sandbox import ivr

    monkeypatch.setattr(ivr.shutil, "which", lambda name: None if name == "espeak-ng" else f"/usr/bin/{name}")
    with pytest.raises(ivr.SpeechUnavailable, match="espeak-ng is not installed: Debian/Ubuntu: sudo apt-get install"):
        Sandbox(read_sandbox_template(SANDBOX_TOML), environ={}).start()
