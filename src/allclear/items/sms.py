"""Texts: a text to each support SMS number gets no maintenance auto-reply."""

from __future__ import annotations

from pydantic import Field, field_validator

from allclear.config.fields import EnvName, PhoneNumber, Seconds, Section, Url
from allclear.items import GoItem, Parameter


class SupportSmsNumber(Section):
    number: PhoneNumber
    name: str = ""


class SmsCheck(Section):
    """From a Twilio number of ours, a text to each support number; replies are read back over the
    REST API (Messages sent to our number), so no webhook is needed.

    During the window the platform answers every text with its maintenance message, which cannot be
    customised; after it, that reply must be gone. An auto-reply the platform normally sends
    (`expected_reply`) must arrive; with none expected, silence is the healthy answer. With
    `find_conversation`, the text must also become a conversation in the platform, looked up over
    the reporting API's credentials (the customer is our number; the item holds the run's token).
    """

    enabled: bool = True
    api_base: Url = "https://api.twilio.com"
    account_sid: str
    auth_token_env: EnvName
    from_number: PhoneNumber                              # a number of ours that can send and receive texts
    numbers: list[SupportSmsNumber] = Field(min_length=1)
    body: str = "allclear test {token}: an automated check after maintenance, please ignore."
    delay_after_window_min: float = Field(default=0.0, ge=0, le=120)   # texts route right after the window
    listen_s: Seconds = 60.0                              # how long replies are read after sending
    poll_interval_s: Seconds = 2.0
    expected_reply: str = ""                              # a phrase of the normal auto-reply, if there is one
    maintenance_phrases: list[str] = ["undergoing a maintenance", "maintenance/upgrade"]
    find_conversation: bool = False                       # the text must become a conversation ([reporting_api])
    conversation_deadline_s: Seconds = 60.0
    conversation_poll_s: Seconds = 2.0

    @field_validator("body")
    @classmethod
    def _has_token(cls, body: str) -> str:
        if "{token}" not in body:
            raise ValueError("must hold {token}: the run's token tells its text (and its conversation) apart")
        return body


def _reproduce(sms: SmsCheck, probes: str) -> list[str]:
    expected = (f"Expected: an auto-reply with {sms.expected_reply!r}" if sms.expected_reply
                else "Expected: no automatic reply")
    return [f"From {sms.from_number}, text the affected number(s): {probes}.",
            f"Watch the replies for {sms.listen_s:g} s.",
            f"{expected}; never the maintenance message (\"We are currently undergoing a maintenance/upgrade…\")."]


ITEM = GoItem(
    key="sms", title="A text to the support number gets no maintenance reply", order=5, name="SMS",
    probe=("support SMS number", "support SMS numbers"), settings=SmsCheck,
    parameter=Parameter("sms_number", lambda target: target.sms.numbers if target.sms and target.sms.enabled
                        else [], id=lambda number: number.name or number.number),
    core=True, waits=True,          # it waits for the window end too: started last, judged last
    interactions="texts: {failed} of {run} test texts got the maintenance reply or no normal answer",
    reproduce=_reproduce,
)
