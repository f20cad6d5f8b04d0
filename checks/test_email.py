"""An email to the support address gets a reply.

Sent from the probe mailbox with a unique token, no earlier than the window end plus the vendor's
delay (15 minutes by default); this item runs last, so that wait overlaps the rest of the
checklist. The platform's reply is looked for over IMAP, then the probe messages are deleted.
"""

import pytest

from allclear.expect import expect
from allclear.probes.mail import ProbeMailbox

pytestmark = pytest.mark.go


def test_email_round_trips(target, secrets, wait_for_email_window, attach_observation, record_fact):
    email = target.email
    if email is None or not email.enabled:
        pytest.skip("the email item is switched off in the target")
    wait_for_email_window(email.delay_after_window_min)
    mailbox = ProbeMailbox(email, secrets[email.smtp_password_env], secrets[email.imap_password_env])
    sent = mailbox.send()
    record_fact("message_id", sent.message_id)
    record_fact("sent_at", sent.sent_at.isoformat(timespec="seconds"))
    seen = attach_observation(mailbox.await_reply(sent))
    record_fact("round_trip_s", seen.round_trip_s)

    expect(seen.reply_found, f"a reply from {email.support_address} within {email.reply_deadline_s:g} s",
           seen.problem)
