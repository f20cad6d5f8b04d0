"""The SMS item: the probe against the sandbox's Messages API in-process, and its faults end to end."""

import time

import pytest

from allclear.config import read_sandbox_template
from allclear.probes.errors import ProbeError
from allclear.probes.platform_conversations import PlatformConversations
from allclear.probes.sms import SupportText
from allclear.probes.twilio_client import twilio_client
from allclear.sandbox import Sandbox, messages, parse_fault
from allclear.sandbox.messages import TEXTS, Message
from allclear.sandbox.voice_resources import new_sid
from tests.conftest import SANDBOX_TOML


@pytest.fixture(scope="module")
def sandbox():
    environ: dict[str, str] = {}
    template = read_sandbox_template(SANDBOX_TOML)
    with Sandbox(template, environ=environ) as running:
        running.sms = template.sms.model_copy(update={"api_base": running.url, "listen_s": 3.0,
                                                      "conversation_deadline_s": 3.0, "conversation_poll_s": 0.25})
        running.token = environ[template.sms.auth_token_env]
        running.template, running.environ = template, environ
        yield running


def text(sandbox, fault=None, token=None, platform=None, **changes):
    sandbox.state.faults.clear()
    if fault:
        sandbox.state.faults.switch_on(parse_fault(fault))
    settings = sandbox.sms.model_copy(update=changes)
    return SupportText(twilio_client(settings, token or sandbox.token), settings, platform).run(settings.numbers[0])


def platform_of(sandbox) -> PlatformConversations:
    api = sandbox.template.reporting_api
    return PlatformConversations(sandbox.url + "/api/v1", api.user, sandbox.environ[api.token_env])


def test_the_expected_auto_reply_ends_the_wait_early(sandbox):
    seen = text(sandbox)
    assert seen.expected_reply_seen and not seen.problem and not seen.maintenance_reply
    assert seen.waited_s < 2.5 and seen.status == "delivered" and len(seen.replies) == 1


def test_no_reply_expected_and_none_comes_is_healthy_after_listening(sandbox):
    seen = text(sandbox, "sms-not-routed", expected_reply="")
    assert (seen.problem, seen.replies) == ("", []) and seen.waited_s >= 3.0


def test_the_maintenance_reply_is_caught_with_its_words(sandbox):
    seen = text(sandbox, "sms-maintenance-reply")
    assert seen.maintenance_reply == messages.MAINTENANCE_REPLY
    assert seen.problem.startswith("the maintenance auto-reply: 'We are currently undergoing a maintenance/upgrade")


def test_a_missing_auto_reply_says_what_came_instead(sandbox):
    seen = text(sandbox, "sms-not-routed")
    assert seen.problem == "no auto-reply with 'Thanks for texting Sandbox Support' within 3 s (no reply at all)"


def test_an_undelivered_text_says_twilios_error(sandbox):
    seen = text(sandbox, "sms-undelivered")
    assert seen.problem == "the text was not delivered: undelivered, error 30005: Unknown destination handset"


def test_the_text_is_found_as_a_conversation_of_our_number(sandbox):
    seen = text(sandbox, platform=platform_of(sandbox))
    found = seen.conversation.sighting
    assert seen.conversation.found and found.conversation_id and found.status == "OPEN"
    assert any(step.name.startswith(f"Find the conversation holding {seen.token} for +15005550006")
               for step in seen.steps)


def test_a_text_that_never_became_a_conversation_is_told_even_with_no_reply_expected(sandbox):
    seen = text(sandbox, "sms-not-routed", platform=platform_of(sandbox), expected_reply="")
    assert seen.problem == "" and not seen.conversation.found
    assert seen.conversation.problem.startswith(f"no conversation with token {seen.token} for customer +15005550006")


def test_a_maintenance_reply_sent_before_our_text_is_not_ours(sandbox):
    """A reply to an earlier text (one sent during the window) is in the list too: it must not count."""
    settings = sandbox.sms
    earlier = time.time() - 3
    old = Message(new_sid("SM"), settings.account_sid, settings.numbers[0].number, settings.from_number,
                  messages.MAINTENANCE_REPLY, "inbound", earlier, earlier, earlier)
    sandbox.app[TEXTS].messages[old.sid] = old
    seen = text(sandbox)
    assert not seen.maintenance_reply and seen.expected_reply_seen
    assert old.sid not in {reply.sid for reply in seen.replies}


def test_our_account_or_number_refused_is_a_probe_error(sandbox):
    with pytest.raises(ProbeError, match="HTTP 401, error 20003"):
        text(sandbox, token="0" * 32)
    with pytest.raises(ProbeError, match="error 21606"):
        text(sandbox, from_number="+15005550999")


@pytest.mark.slow
@pytest.mark.parametrize("fault, observed", [
    ("sms-maintenance-reply", "the maintenance auto-reply: 'We are currently undergoing a maintenance/upgrade"),
    ("sms-not-routed", "no auto-reply with 'Thanks for texting Sandbox Support' within 10 s (no reply at all)"),
])
def test_faults_fail_the_item_with_the_received_text_in_the_evidence(run_go, fault, observed):
    sms = run_go("--sandbox-fault", fault, checks=("test_sms.py",)).item("sms")
    assert (sms["outcome"], sms["grade"]) == ("failed", "P1")
    probe = sms["probes"][0]
    assert probe["observed"].startswith(observed)
    if fault == "sms-maintenance-reply":
        assert probe["facts"]["replies"] == [messages.MAINTENANCE_REPLY]
