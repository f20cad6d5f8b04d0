"""An email to the support address gets a reply.

Sent from the probe mailbox with a unique token, no earlier than the window end plus the vendor's
delay (15 minutes by default); the wait runs beside the rest of the checklist, with a countdown.
The platform's reply is looked for over IMAP; with the reporting API's credentials, the conversation
the email became is looked up too and labelled as a test. `email.require` says which must be seen.
"""

import pytest

from allclear.checklist import observation
from allclear.expect import expect
from allclear.probes.mail import ProbeMailbox
from allclear.probes.mail_signals import await_signals, platform_for

pytestmark = pytest.mark.go


@observation
def round_trip(target, secrets, email_window):
    email = target.email
    if email is None or not email.enabled:
        pytest.skip("the email item is switched off in the target")
    mailbox = ProbeMailbox(email, secrets)
    with mailbox.steps(f"Wait until the window end + {email.delay_after_window_min:g} min (the vendor's rule)"):
        due = email_window.wait(email.delay_after_window_min)
    sent = mailbox.send()
    return due, sent, await_signals(mailbox, sent, platform_for(target, secrets))


def test_email_round_trips(round_trip, target, attach_observation, record_fact, record_moment):
    email = target.email
    due, sent, signals = round_trip
    record_fact("message_id", sent.message_id)
    record_fact("sent_at", sent.sent_at.isoformat(timespec="seconds"))
    if due:
        record_moment(f"email due (window end + {email.delay_after_window_min:g} min)", due)
    record_moment(f"email sent to {email.support_address}", sent.sent_at)
    reply = signals.reply and attach_observation(signals.reply)
    if reply and reply.reply_at:
        record_fact("round_trip_s", reply.round_trip_s)
        record_moment(f"reply received from {email.support_address} ({reply.round_trip_s:g} s)", reply.reply_at)
    conversation = signals.conversation and attach_observation(signals.conversation)
    if conversation and conversation.sighting:
        found = conversation.sighting
        record_fact("conversation_id", found.conversation_id)
        record_fact("conversation_created_at", found.created_at)      # the platform's clock
        record_fact("conversation_seen_s", round((found.seen_at - sent.sent_at).total_seconds(), 2))
        record_moment(f"conversation {found.conversation_id} seen in the platform", found.seen_at)
    required_trouble, notes = signals.troubles(email)
    if conversation and not conversation.found:
        notes.append(conversation.problem)
    if notes := [*notes, *signals.labelled]:
        record_fact("notes", notes)

    if email.wants_reply and reply:
        expect(reply.reply_found, f"a reply from {email.support_address} within {email.reply_deadline_s:g} s",
               reply.problem)
    if email.wants_conversation and conversation:
        expect(conversation.found, f"a conversation in the platform holding {sent.token} within "
               f"{email.reply_deadline_s:g} s", conversation.problem)
    if required_trouble:
        raise required_trouble[0]
