"""Each support line answers with its greeting.

The probe call (placed through Twilio from our own number) must be answered, and what the line
says, heard from the call's recording, must be its greeting: not dead air, not the vendor's
maintenance recording. The recording is attached, so anyone can listen to what the line said. The
call is always hung up, and Twilio's TimeLimit ends it even if we could not.
"""

import json
from pathlib import Path

import allure
import pytest

from allclear.allure_report import listening_page
from allclear.checklist import observation
from allclear.expect import expect
from allclear.probes.audio import read_wav
from allclear.probes.speech import CouldNotTell
from allclear.probes.twilio_client import twilio_client
from allclear.probes.voice import SupportLineCall

pytestmark = pytest.mark.go


@observation
def call(support_line, target, secrets, evidence_dir):
    voice = target.voice
    if voice is None or not voice.enabled:
        pytest.skip("the voice item is switched off in the target")
    token = secrets[voice.auth_token_env]
    return SupportLineCall(twilio_client(voice, token), voice, evidence_dir, token).run(support_line)


def test_support_line_answers_with_its_greeting(call, support_line, attach, attach_observation, record_fact):
    seen = attach_observation(call)
    allure.attach(json.dumps(seen.timeline, indent=1), name="Call status timeline", attachment_type="application/json")
    record_fact("call_sid", seen.call_sid)
    record_fact("seconds_to_answer", seen.seconds_to_answer)
    if seen.recording_file:
        recording = Path(seen.recording_file)
        attach(recording, f"Recording {seen.recording_sid} (WAV, as Twilio served it)")
        allure.attach(listening_page(read_wav(recording.read_bytes()), f"What {seen.line} said"),
                      name="Listen to the line", attachment_type=allure.attachment_type.HTML)
    heard = seen.hearing
    if heard:
        record_fact("heard", {"decision": heard.decision, "said": heard.said, "source": heard.source})

    expect(seen.answered, f"{support_line.number} answered", seen.problem or f"call {seen.final_status}")
    expect(heard.decision != "silence", "the line to speak after answering", f"dead air: {heard.described()}")
    expect(heard.decision != "maintenance", "the line's normal greeting", heard.described())
    if heard.decision == "unclear":
        raise CouldNotTell(f"could not tell what the line said: {heard.described()} (listen to the recording)")
    expect(heard.normal(support_line), f"a greeting with {support_line.expected_greeting!r}", heard.described())
