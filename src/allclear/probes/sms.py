"""SMS probe (the official twilio SDK): text a support number from our own Twilio number and read
what comes back to that number for `listen_s` seconds.

Only replies sent after our text count: a maintenance reply to a text sent during the window (an
earlier run's, or a person's) is not this run's answer. The wait stops early when the maintenance
message arrives (failed) or the expected auto-reply does (passed). Twilio refusing *our* account or
number is a ProbeError: the item is inconclusive. With a PlatformConversations, the text must then show up
as a conversation of our number holding the run's token.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import requests
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.rest import Client

from allclear.items.sms import SmsCheck, SupportSmsNumber
from allclear.probes.errors import ProbeError, ServiceUnreachable, one_line
from allclear.probes.maintenance import shows_maintenance
from allclear.probes.platform_conversations import ConversationObservation, PlatformConversations
from allclear.probes.steps import StepLog
from allclear.probes.twilio_client import create_refused, refused_account

# Our account or our number, not the support line: authentication, suspended or test credentials,
# a From that is not ours or cannot text, trial accounts, a support number that has blocked us (STOP).
OUR_SIDE_CODES = {20003, 20005, 20008, 21212, 21606, 21608, 21610, 21659}
UNDELIVERED = ("failed", "undelivered", "canceled")


@dataclass
class Reply:
    sid: str
    from_number: str
    body: str
    date_sent: str


@dataclass
class TextObservation:
    number: str
    name: str
    from_number: str
    token: str
    message_sid: str = ""
    sent_at: str = ""
    status: str = ""
    replies: list[Reply] = field(default_factory=list)
    maintenance_reply: str = ""          # the reply that holds a maintenance phrase
    undelivered: bool = False            # Twilio gave up delivering our text
    expected_reply_seen: bool = False
    waited_s: float = 0.0
    conversation: ConversationObservation | None = None
    problem: str = ""
    steps: StepLog = field(default_factory=StepLog)


class SupportText:
    def __init__(self, client: Client, settings: SmsCheck, platform: PlatformConversations | None = None,
                 sleep: Callable[[float], None] = time.sleep):
        self.client, self.settings, self.platform, self.sleep = client, settings, platform, sleep

    def run(self, number: SupportSmsNumber) -> TextObservation:
        """Twilio's API being out of reach is ours to fix (our account, our network): inconclusive."""
        try:
            return self._text(number)
        except requests.RequestException as exc:
            raise ServiceUnreachable(f"could not reach the Twilio API at {self.settings.api_base}: "
                                     f"{one_line(exc)}") from None
        except TwilioException as exc:
            raise refused_account(exc) or ProbeError(f"Twilio API error while following the text to "
                                                     f"{number.number}: {exc}") from None

    def _text(self, number: SupportSmsNumber) -> TextObservation:
        s = self.settings
        seen = TextObservation(number=number.number, name=number.name or number.number, from_number=s.from_number,
                               token=secrets.token_hex(4))
        with seen.steps(f"Text {seen.name} ({number.number}) from {s.from_number} through Twilio") as step:
            sent_at = datetime.now(timezone.utc).replace(microsecond=0)
            already_there = {m.sid for m in self._from_support(number, sent_at - timedelta(minutes=2))}
            try:
                message = self.client.messages.create(to=number.number, from_=s.from_number,
                                                      body=s.body.format(token=seen.token))
            except TwilioRestException as exc:
                seen.problem = create_refused(exc, OUR_SIDE_CODES, "send the text")
                step.fail(seen.problem)
                return seen
            # Replies are compared with Twilio's clock, not ours: a skewed local clock loses none.
            sent_at = message.date_created or sent_at
            seen.message_sid, seen.status, seen.sent_at = message.sid, message.status, sent_at.isoformat()
        with seen.steps(f"Read the replies to {s.from_number} for up to {s.listen_s:g} s") as step:
            self._listen(seen, number, sent_at, already_there)
            if seen.problem:
                step.fail(seen.problem)
        if self.platform is not None and not seen.problem:
            with self.platform:
                seen.conversation = self.platform.await_conversation(
                    s.from_number, seen.token, sent_at, s.conversation_deadline_s, s.conversation_poll_s, channel="SMS")
            seen.steps.extend(seen.conversation.steps)
        return seen

    def _listen(self, seen: TextObservation, number: SupportSmsNumber, sent_at: datetime,
                already_there: set[str]) -> None:
        s = self.settings
        started = time.monotonic()
        while True:
            message = self.client.messages(seen.message_sid).fetch()
            seen.status = message.status
            self._read_replies(seen, number, sent_at, already_there)
            seen.waited_s = round(time.monotonic() - started, 1)
            if seen.maintenance_reply:
                seen.problem = f"the maintenance auto-reply: {seen.maintenance_reply!r}"
                return
            if seen.status in UNDELIVERED:
                seen.undelivered = True
                seen.problem = (f"the text was not delivered: {message.status}, error {message.error_code}: "
                                f"{message.error_message or 'no message'}")
                return
            if s.expected_reply and seen.expected_reply_seen:
                return
            if seen.waited_s >= s.listen_s:
                break
            self.sleep(min(s.poll_interval_s, max(0.0, s.listen_s - seen.waited_s)))
        if s.expected_reply:
            others = "; ".join(repr(reply.body) for reply in seen.replies) or "no reply at all"
            seen.problem = f"no auto-reply with {s.expected_reply!r} within {s.listen_s:g} s ({others})"

    def _from_support(self, number: SupportSmsNumber, since: datetime) -> list:
        return self.client.messages.list(to=self.settings.from_number, from_=number.number, date_sent_after=since,
                                         limit=50)

    def _read_replies(self, seen: TextObservation, number: SupportSmsNumber, sent_at: datetime,
                      already_there: set[str]) -> None:
        """Texts from the support number to ours, sent no earlier than ours (to the second) and not
        already there when ours was sent (a reply to an earlier text, in the same second)."""
        known = {reply.sid for reply in seen.replies} | already_there
        for message in sorted(self._from_support(number, sent_at), key=lambda m: m.date_sent or m.date_created):
            when = message.date_sent or message.date_created
            if message.sid in known or when is None or when < sent_at:
                continue
            reply = Reply(message.sid, message.from_, message.body or "", when.isoformat())
            seen.replies.append(reply)
            if shows_maintenance(reply.body, self.settings.maintenance_phrases):
                seen.maintenance_reply = seen.maintenance_reply or reply.body
            if self.settings.expected_reply and self.settings.expected_reply.lower() in reply.body.lower():
                seen.expected_reply_seen = True


def platform_for(target, secrets) -> PlatformConversations | None:
    """The platform's API with the reporting API's credentials, when the SMS item should look there."""
    sms, api = target.sms, target.reporting_api
    if sms is None or not sms.find_conversation or api is None or not api.enabled:
        return None
    return PlatformConversations(api.api_base, api.user, secrets[api.token_env], timeout_s=min(api.timeout_s, 20.0))
