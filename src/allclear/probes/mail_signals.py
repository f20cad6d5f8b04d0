"""The test email's two signals, watched side by side: the platform's reply in the probe mailbox (IMAP)
and the conversation it became inside the platform (the vendor's REST API, with the reporting API's
credentials). Which of them the item needs is the target's `email.require`; both are reported.

A signal that is not required never holds up the other: once the required ones are in, the other
wait is stopped (after one more look for the conversation, which normally appears before the reply).
Trouble watching a signal is ours (the probe mailbox, the API's credentials, an unreachable API): a
note when the signal is not required; inconclusive when it is, unless a required signal is missing
outright, which fails the item whatever else went wrong. The conversation is then labelled as a test (a note,
topics, closed), so no agent is handed the probe's email as work.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field

from allclear.config import Secrets, Target
from allclear.items.email import EmailCheck
from allclear.probes.errors import ProbeError
from allclear.probes.mail import ProbeMailbox, ReplyObservation, SentProbe
from allclear.probes.platform_conversations import ConversationObservation, PlatformConversations
from allclear.probes.steps import Step, StepLog


@dataclass
class EmailSignals:
    reply: ReplyObservation | None = None                     # None: the mailbox could not be watched
    conversation: ConversationObservation | None = None      # None: not looked up, or could not be
    reply_trouble: ProbeError | None = None
    conversation_trouble: ProbeError | None = None
    labelled: list[str] = field(default_factory=list)
    mailbox_steps: StepLog = field(default_factory=StepLog)

    @property
    def steps(self) -> list[Step]:
        """The probe's steps, the mailbox's and the platform lookup's, in the order they began."""
        looked = self.conversation.steps if self.conversation else []
        return sorted([*self.mailbox_steps, *looked], key=lambda step: step.start_ms)

    def troubles(self, email: EmailCheck) -> tuple[list[ProbeError], list[str]]:
        """Our side's trouble: with a required signal (inconclusive, unless another required signal
        is missing outright: that is a failure whatever else went wrong), and with one not required
        (a note)."""
        required, notes = [], []
        for wanted, trouble in ((email.wants_reply, self.reply_trouble),
                                (email.wants_conversation, self.conversation_trouble)):
            if trouble is not None:
                (required.append(trouble) if wanted else notes.append(f"not required, could not check: {trouble}"))
        return required, notes


def platform_for(target: Target, secrets: Secrets) -> PlatformConversations | None:
    """The platform's API with the reporting API's credentials, when the target has them and wants a look."""
    email, api = target.email, target.reporting_api
    if email is None or not email.find_conversation or api is None or not api.enabled:
        return None
    return PlatformConversations(api.api_base, api.user, secrets[api.token_env], timeout_s=min(api.timeout_s, 20.0))


def await_signals(mailbox: ProbeMailbox, sent: SentProbe, platform: PlatformConversations | None) -> EmailSignals:
    email: EmailCheck = mailbox.settings
    if platform is None:      # the only signal: its trouble is the item's
        return EmailSignals(mailbox.await_reply(sent), mailbox_steps=mailbox.steps)
    signals = EmailSignals(mailbox_steps=mailbox.steps)
    stop_reply, stop_looking = threading.Event(), threading.Event()
    with platform, ThreadPoolExecutor(1, thread_name_prefix="conversation") as pool:
        looking = pool.submit(platform.await_conversation, email.probe_address, sent.token, sent.sent_at,
                              email.reply_deadline_s, email.conversation_poll_s, stop_looking)
        if not email.wants_reply:
            looking.add_done_callback(lambda _: stop_reply.set())
        try:
            signals.reply = mailbox.await_reply(sent, stop=stop_reply)
        except ProbeError as exc:
            signals.reply_trouble = exc     # the conversation may still decide the item: keep looking
        except BaseException:
            stop_looking.set()
            raise
        if not email.wants_conversation:
            _give_one_more_look(looking, email.conversation_poll_s * 1.5)
            stop_looking.set()
        try:
            signals.conversation = looking.result()
        except ProbeError as exc:
            signals.conversation_trouble = exc
        if signals.conversation is not None and signals.conversation.sighting is not None:
            signals.labelled = platform.label_as_test(signals.conversation.sighting.conversation_id,
                                                      email.conversation_note, email.close_conversation,
                                                      email.conversation_topic_ids)
    return signals


def _give_one_more_look(looking: Future, seconds: float) -> None:
    try:
        looking.result(timeout=seconds)
    except (FutureTimeout, ProbeError):
        pass
