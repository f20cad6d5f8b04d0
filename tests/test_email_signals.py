"""The email item's two signals side by side: the reply (IMAP) and the conversation in the platform (REST).
`email.require` decides which the item needs; the other is reported and never holds the item up."""

from __future__ import annotations

from contextlib import contextmanager

from allclear.probes.errors import CredentialsRejected
from allclear.probes.mail_signals import await_signals
from allclear.probes.platform_conversations import PlatformConversations
from allclear.sandbox.conversations import CONVERSATIONS
from tests.test_mail_auth import probe_mailbox


@contextmanager
def signals_on_sandbox(faults: list[str] | None = None, **changes):
    """(run, sandbox): `run()` sends the probe's email and watches both signals."""
    with probe_mailbox(faults, **changes) as (mailbox, sandbox):
        api = sandbox.target.reporting_api

        def run():
            sent = mailbox.send()
            platform = PlatformConversations(f"{sandbox.url}/api/v1", api.user, mailbox._secrets[api.token_env])
            return sent, await_signals(mailbox, sent, platform)

        yield run, sandbox


def test_both_signals_seen_and_the_conversation_labelled_as_a_test():
    with signals_on_sandbox(require="both") as (run, sandbox):
        sent, signals = run()
        conversation = sandbox.app[CONVERSATIONS].conversations[signals.conversation.sighting.conversation_id]
    assert signals.reply.reply_found and signals.conversation.found
    assert conversation.status == "CLOSED"
    assert any(item["content"].get("type") == "CONVERSATION_NOTE" for item in conversation.items)
    assert [line.split(" conversation ")[0] for line in signals.labelled] == ["added a note to", "closed"]


def test_a_conversation_not_required_and_missing_is_reported_and_does_not_hold_the_reply_up():
    with signals_on_sandbox(["email-no-conversation"], require="reply", conversation_poll_s=0.5) as (run, _):
        _, signals = run()
    assert signals.reply.reply_found and not signals.conversation.found
    assert "customer found" in signals.conversation.problem and signals.labelled == []
    assert signals.conversation.polls < 5          # stopped soon after the reply, not at the 5 s deadline


def test_a_reply_not_required_stops_waiting_once_the_conversation_is_seen():
    with signals_on_sandbox(["mail-blackhole"], require="conversation", poll_interval_s=0.2) as (run, _):
        _, signals = run()
    assert signals.conversation.found and not signals.reply.reply_found
    assert signals.reply.stopped and "not required" in signals.reply.problem


def test_a_slow_conversation_is_waited_for():
    with signals_on_sandbox(["conversation-slow:1.5"], require="both", conversation_poll_s=0.5) as (run, _):
        sent, signals = run()
    assert signals.conversation.found
    assert (signals.conversation.sighting.seen_at - sent.sent_at).total_seconds() >= 1.4


def test_the_api_refusing_our_credentials_is_inconclusive_when_required_and_a_note_when_not():
    for require, required in (("both", 1), ("reply", 0)):
        with signals_on_sandbox(["reports-401"], require=require) as (run, sandbox):
            _, signals = run()
            troubles, notes = signals.troubles(sandbox.target.email.model_copy(update={"require": require}))
        assert signals.reply.reply_found and signals.conversation is None
        assert isinstance(signals.conversation_trouble, CredentialsRejected)
        assert (len(troubles), len(notes)) == (required, 1 - required)


def test_a_required_signal_missing_outright_is_still_seen_when_the_other_is_in_trouble():
    """Our API credentials refused must not hide that no reply came: the check fails on the reply."""
    with signals_on_sandbox(["reports-401", "mail-blackhole"], require="both") as (run, _):
        _, signals = run()
    assert signals.reply is not None and not signals.reply.reply_found
    assert isinstance(signals.conversation_trouble, CredentialsRejected)


def test_the_probe_mailbox_down_does_not_matter_when_only_the_conversation_is_required():
    with signals_on_sandbox(["imap-auth"], require="conversation") as (run, sandbox):
        _, signals = run()
        troubles, notes = signals.troubles(sandbox.target.email.model_copy(update={"require": "conversation"}))
    assert signals.conversation.found and signals.reply is None
    assert troubles == [] and "IMAP server refused its login" in notes[0]
