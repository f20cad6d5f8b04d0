"""A text to the support number gets no maintenance reply.

From our own Twilio number, a text to each support SMS number, at the window's end (plus a delay
the target may set); then the replies to our number are read for a while. The vendor's maintenance
auto-reply ("We are currently undergoing a maintenance/upgrade…") fails the text; so does an
undelivered text, or a missing auto-reply when the target expects one. With `find_conversation`,
the text must also become a conversation in the platform (looked up over its REST API).
"""

import json

import allure
import pytest

from allclear.checklist import observation
from allclear.expect import expect
from allclear.probes.sms import SupportText, platform_for
from allclear.probes.twilio_client import twilio_client

pytestmark = pytest.mark.go


@observation
def text(sms_number, target, secrets, email_window):
    sms = target.sms
    if sms is None or not sms.enabled:
        pytest.skip("the SMS item is switched off in the target")
    email_window.wait(sms.delay_after_window_min, "text")
    client = twilio_client(sms, secrets[sms.auth_token_env])
    return SupportText(client, sms, platform_for(target, secrets)).run(sms_number)


def test_text_gets_no_maintenance_reply(text, sms_number, target, attach_observation, record_fact):
    sms = target.sms
    seen = attach_observation(text)
    if seen.replies:
        allure.attach(json.dumps([reply.__dict__ for reply in seen.replies], indent=1), name="Replies received",
                      attachment_type=allure.attachment_type.JSON)
    record_fact("message_sid", seen.message_sid)
    record_fact("sent_at", seen.sent_at)
    record_fact("replies", [reply.body for reply in seen.replies])

    expect(not seen.maintenance_reply, "no maintenance auto-reply", seen.problem)
    expect(seen.message_sid and not seen.undelivered, f"the text delivered to {sms_number.number}", seen.problem)
    if sms.expected_reply:
        expect(seen.expected_reply_seen, f"an auto-reply with {sms.expected_reply!r} within {sms.listen_s:g} s",
               seen.problem)
    if seen.conversation:
        if seen.conversation.sighting:
            record_fact("conversation_id", seen.conversation.sighting.conversation_id)
        expect(seen.conversation.found, f"a conversation in the platform holding {seen.token} within "
               f"{sms.conversation_deadline_s:g} s", seen.conversation.problem)
