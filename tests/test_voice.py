"""The voice item: the probe against the sandbox's Twilio-compatible API in-process (it always hangs
up; our account's trouble is ours), and each voice fault end to end."""

import pytest

from allclear.config import read_sandbox_template
from allclear.probes.errors import ProbeError
from allclear.probes.voice import SupportLineCall, twilio_client
from allclear.sandbox import Sandbox, parse_fault
from tests.conftest import SANDBOX_TOML, write_target


@pytest.fixture(scope="module")
def sandbox():
    environ: dict[str, str] = {}
    template = read_sandbox_template(SANDBOX_TOML)
    with Sandbox(template, environ=environ) as running:
        running.settings = template.voice.model_copy(update={"api_base": running.url})
        running.token = environ[template.voice.auth_token_env]
        yield running


@pytest.fixture
def call(sandbox):
    sandbox.state.faults.clear()
    return SupportLineCall(twilio_client(sandbox.settings, sandbox.token), sandbox.settings)


def test_healthy_call_hears_the_greeting_and_records_a_timeline(call, sandbox):
    seen = call.run(sandbox.settings.lines[0])
    assert seen.answered and "Thank you for calling" in seen.transcription
    assert [status for _, status in seen.timeline][:3] == ["queued", "ringing", "in-progress"]
    assert seen.final_status == "completed" and seen.seconds_to_answer < 5


def test_probe_hangs_up_a_call_it_stops_following(sandbox):
    settings = sandbox.settings.model_copy(update={"transcription_deadline_s": 0.05, "listen_s": 30})
    seen = SupportLineCall(twilio_client(settings, sandbox.token), settings).run(settings.lines[0])
    assert seen.answered and seen.hung_up_by_probe and "no transcription" in seen.problem
    assert twilio_client(settings, sandbox.token).calls(seen.call_sid).fetch().status == "completed"


def test_busy_line_is_observed_not_raised(call, sandbox):
    sandbox.state.faults.switch_on(parse_fault("voice-busy"))
    seen = call.run(sandbox.settings.lines[0])
    assert (seen.answered, seen.final_status) == (False, "busy")
    assert seen.problem == "the call ended busy without being answered"


def test_rejected_credentials_are_a_probe_error(sandbox):
    with pytest.raises(ProbeError, match="HTTP 401, error 20003"):
        SupportLineCall(twilio_client(sandbox.settings, "wrong-token"), sandbox.settings).run(sandbox.settings.lines[0])


def test_from_number_we_do_not_own_is_a_probe_error(sandbox):
    settings = sandbox.settings.model_copy(update={"from_number": "+15005550999"})
    with pytest.raises(ProbeError, match="error 21210"):
        SupportLineCall(twilio_client(settings, sandbox.token), settings).run(settings.lines[0])


@pytest.mark.slow
@pytest.mark.parametrize("fault, status", [("voice-busy", "busy"), ("voice-no-answer", "no-answer")])
def test_unanswered_lines_fail_with_their_status(run_go, fault, status):
    voice = run_go("--sandbox-fault", fault, checks=("test_voice.py",)).item("voice")
    assert (voice["outcome"], voice["grade"], voice["probes_failed"]) == ("failed", "P1", 2)
    assert f"the call ended {status} without being answered" in voice["probes"][0]["observed"]
    assert voice["probes"][0]["facts"]["call_sid"].startswith("CA")


@pytest.mark.slow
@pytest.mark.parametrize("fault", ["voice-maintenance-recording", "maintenance"])
def test_maintenance_recording_fails_the_line(run_go, fault):
    voice = run_go("--sandbox-fault", fault, checks=("test_voice.py",)).item("voice")
    assert (voice["outcome"], voice["grade"]) == ("failed", "P1")
    probe = voice["probes"][0]
    assert probe["expected"] == "the line's normal greeting"
    assert "the maintenance recording: 'We are currently undergoing system maintenance" in probe["observed"]


@pytest.mark.slow
def test_one_busy_line_of_five_is_p2(run_go, tmp_path):
    lines = [{"name": f"Line {n}", "number": f"+1415555010{n}"} for n in range(5)]
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
