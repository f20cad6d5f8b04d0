"""The test email's two signals, watched side by side: the platform's reply in the probe mailbox (IMAP)
and the conversation it became inside the platform (the vendor's REST API, with the reporting API's
credentials). Which of them the item needs is the target's `email.require`; both are reported.

A signal that is not required never holds up the other: once the required ones are in, the other
wait is stopped (after one more look for the conversation, which normally appears before the reply).
Trouble looking the conversation up is ours (credentials, an unreachable API): inconclusive when the
conversation is required, a note otherwise. The conversation is then labelled as a test (a note,
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


@dataclass
class EmailSignals:
    reply: ReplyObservation
    conversation: ConversationObservation | None = None      # None: not looked up
    conversation_trouble: str = ""     # the lookup could not run (the conversation was not required)
    labelled: list[str] = field(default_factory=list)


def platform_for(target: Target, secrets: Secrets) -> PlatformConversations | None:
    """The platform's API with the reporting API's credentials, when the target has them and wants a look."""
    email, api = target.email, target.reporting_api
    if email is None or not email.find_conversation or api is None or not api.enabled:
        return None
    return PlatformConversations(api.api_base, api.user, secrets[api.token_env], timeout_s=min(api.timeout_s, 20.0))


def await_signals(mailbox: ProbeMailbox, sent: SentProbe, platform: PlatformConversations | None) -> EmailSignals:
    email: EmailCheck = mailbox.settings
    if platform is None:
        return EmailSignals(mailbox.await_reply(sent))
    stop_reply, stop_looking = threading.Event(), threading.Event()
    with platform, ThreadPoolExecutor(1, thread_name_prefix="conversation") as pool:
        looking = pool.submit(platform.await_conversation, email.probe_address, sent.token, sent.sent_at,
                              email.reply_deadline_s, email.conversation_poll_s, stop_looking)
        if not email.wants_reply:
            looking.add_done_callback(lambda _: stop_reply.set())
        reply = mailbox.await_reply(sent, stop=stop_reply)
        if not email.wants_conversation and not looking.done():
            _give_one_more_look(looking, email.conversation_poll_s * 1.5)
            stop_looking.set()
        signals = EmailSignals(reply)
        try:
            signals.conversation = looking.result()
        except ProbeError as exc:
            if email.wants_conversation:
                raise
            signals.conversation_trouble = f"could not look the email up in the platform: {exc}"
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
