"""Support lines: a test call to each line is answered, and not by the maintenance recording."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from allclear.config.fields import EnvName, PhoneNumber, Seconds, Section, Url
from allclear.items import GoItem, Parameter


class SupportLine(Section):
    number: PhoneNumber
    name: str = ""
    expected_greeting: str = ""   # the words the line says first when it answers (heard locally: within 1 s)


class VoiceCheck(Section):
    """Twilio places the probe call; only the API base differs between the sandbox and Twilio.

    What the line said is decided from the call's recording: dead air by its loudness, and which
    phrase it said by `speech_source`: `local` (pocketsphinx here, the default: nothing leaves the
    machine), `twilio_transcription` (Twilio's <Record transcribe>, deprecated by Twilio, English
    only) or `conversational_intelligence` (a Twilio Conversational Intelligence service of yours,
    `intelligence_service_sid`, transcribes the recording; polled, no webhook).
    """

    enabled: bool = True
    api_base: Url = "https://api.twilio.com"
    account_sid: str
    auth_token_env: EnvName
    from_number: PhoneNumber
    lines: list[SupportLine] = Field(min_length=1)
    ring_timeout_s: int = Field(default=30, ge=5, le=600)     # Twilio `Timeout`: how long it may ring
    listen_s: int = Field(default=8, ge=2, le=120)            # seconds recorded after answer
    speech_within_s: Seconds = 4.0                            # no speech by then after answer: dead air
    time_limit_s: int = Field(default=60, ge=10, le=14400)    # Twilio `TimeLimit`: the call can never stay up
    answer_deadline_s: Seconds = 60.0
    recording_deadline_s: Seconds = 60.0                      # for the recording to be `completed` after the call
    transcription_deadline_s: Seconds = 180.0                 # for a Twilio transcript (not for `local`)
    poll_interval_s: Seconds = 1.0
    maintenance_phrases: list[str] = ["undergoing system maintenance", "encountered an error processing"]
    speech_source: Literal["local", "twilio_transcription", "conversational_intelligence"] = "local"
    intelligence_service_sid: str = Field(default="", pattern=r"^(GA[0-9a-fA-F]{32})?$")

    @model_validator(mode="after")
    def _speech_fits(self) -> VoiceCheck:
        if self.speech_within_s >= self.listen_s:
            raise ValueError(f"speech_within_s ({self.speech_within_s:g}) must be less than listen_s "
                             f"({self.listen_s}): the recording must hold the moment speech is due")
        if self.speech_source == "local" and (silent := [line.name or line.number for line in self.lines
                                                         if not line.expected_greeting]):
            raise ValueError(f"every line needs expected_greeting with speech_source = \"local\" (missing for "
                             f"{', '.join(silent)}): the local recognizer can miss a maintenance recording it "
                             "hears through noise or music, and only a greeting it must hear makes that a failure "
                             "rather than a pass (benchmarks/RESULTS.md)")
        if self.speech_source == "conversational_intelligence" and not self.intelligence_service_sid:
            raise ValueError("speech_source = \"conversational_intelligence\" needs intelligence_service_sid "
                             "(the GA… SID of your Conversational Intelligence service)")
        return self


def _reproduce(voice: VoiceCheck, probes: str) -> list[str]:
    return [f"From {voice.from_number}, call the affected line(s): {probes}.",
            f"Listen to the first {voice.listen_s} seconds after it answers (the recording is attached).",
            "Expected: the line's normal greeting; not busy, not unanswered, not the maintenance recording."]


ITEM = GoItem(
    key="voice", title="Each support line answers with its greeting", order=4, name="Support lines",
    probe=("support line", "support lines"), settings=VoiceCheck,
    parameter=Parameter("support_line", lambda target: target.voice.lines if target.voice and target.voice.enabled
                        else [], id=lambda line: line.name or line.number),
    core=True, interactions="calls: {failed} of {run} test calls did not reach the support line's greeting",
    reproduce=_reproduce,
)
