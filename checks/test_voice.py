"""Each support line answers with its greeting.

The probe call (placed through Twilio from our own number) must be answered, and what the line
says must not be the vendor's maintenance recording. The call is always hung up, and Twilio's
TimeLimit ends it even if we could not.
"""

import json

import allure
import pytest

from allclear.checklist import observation
from allclear.expect import expect
from allclear.probes.voice import SupportLineCall, heard_maintenance, twilio_client

pytestmark = pytest.mark.go


@observation
def call(support_line, target, secrets):
    voice = target.voice
    if voice is None or not voice.enabled:
        pytest.skip("the voice item is switched off in the target")
    return SupportLineCall(twilio_client(voice, secrets[voice.auth_token_env]), voice).run(support_line)


def test_support_line_answers_with_its_greeting(call, support_line, target, attach_observation, record_fact):
    voice = target.voice
    seen = attach_observation(call)
    allure.attach(json.dumps(seen.timeline, indent=1), name="Call status timeline", attachment_type="application/json")
    record_fact("call_sid", seen.call_sid)
    record_fact("seconds_to_answer", seen.seconds_to_answer)

    expect(seen.answered, f"{support_line.number} answered", seen.problem or f"call {seen.final_status}")
    expect(seen.transcription, "a transcription of what the line said", seen.problem or "nothing transcribed")
    phrase = heard_maintenance(seen.transcription, voice.maintenance_phrases)
    expect(not phrase, "the line's normal greeting", f"the maintenance recording: {seen.transcription!r}")
    if support_line.expected_greeting:
        expect(support_line.expected_greeting.lower() in seen.transcription.lower(),
               f"a greeting with {support_line.expected_greeting!r}", repr(seen.transcription))
