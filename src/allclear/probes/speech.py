"""What a support line said, from its call recording: one decision, and which source made it.

Dead air is decided first, from the audio's loudness alone: a line that answered and said nothing
within `speech_within_s`. Otherwise a speech source decides: `local` spots the configured phrases
with pocketsphinx on this machine (the default); `twilio_transcription` reads Twilio's transcript
of the recording and `conversational_intelligence` has the target's Conversational Intelligence
service transcribe it, and each looks for the phrases in the text. Either way the decision is one of:

- greeting: the line's expected greeting was heard;
- maintenance: a maintenance phrase was heard (this wins over the greeting: it must never pass);
- none: speech, but none of the phrases (fine for a line with no expected greeting);
- silence: dead air;
- unclear: the source could not tell; the item is then inconclusive, never guessed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from allclear.items.voice import SupportLine, VoiceCheck
from allclear.probes.audio import Audio, Loudness
from allclear.probes.errors import ProbeError
from allclear.probes.hearing import TOO_NOISY_FLOOR_DBFS, Heard, PhraseNotSpeakable, PhraseSpotter
from allclear.probes.maintenance import shows_maintenance
from allclear.probes.twilio_client import TwilioAccountError


class CouldNotTell(ProbeError):
    """The speech source could not say what the line said: inconclusive, with the recording attached."""


@dataclass(frozen=True)
class Hearing:
    decision: str          # greeting | maintenance | none | silence | unclear
    said: str              # the transcript, or the phrase spotted ("" when nothing)
    confidence: str        # why the source is this sure, in its own terms
    source: str

    def normal(self, line: SupportLine) -> bool:
        """What a healthy line says: its greeting, or any speech when it has no expected greeting."""
        return self.decision == "greeting" or (self.decision == "none" and not line.expected_greeting)

    def described(self) -> str:
        what = {"greeting": "its greeting", "maintenance": "the maintenance recording",
                "none": "none of the configured phrases", "silence": "nothing (dead air)",
                "unclear": "something it could not tell apart"}[self.decision]
        said = "" if not self.said else f" ({self.said})" if self.decision == "unclear" else f" ({self.said!r})"
        return f"{what}{said}; {self.confidence}; decided by {self.source}"


class SpeechSource(Protocol):
    name: str

    def hear(self, audio: Audio, recording_sid: str, line: SupportLine) -> Hearing: ...


def dead_air(measured: Loudness, speech_within_s: float) -> Hearing | None:
    """The line said nothing, or nothing within `speech_within_s` of answering."""
    late = measured.first_speech_s is not None and measured.first_speech_s > speech_within_s
    if not (measured.dead_air or measured.first_speech_s is None or late):
        return None
    why = f"no speech in the first {speech_within_s:g} s" if late else "no speech at all"
    return Hearing("silence", "", f"{why}: {measured.described()}", "the recording's loudness")


class LocalRecognition:
    """pocketsphinx keyphrase spotting on this machine; one spotter per set of phrases, built once."""

    name = "local recognition (pocketsphinx)"

    def __init__(self, maintenance_phrases: list[str]):
        self.maintenance_phrases = maintenance_phrases
        self._spotters: dict[str, PhraseSpotter] = {}
        self._lock = threading.Lock()           # one decoder, used by one call at a time

    def hear(self, audio: Audio, recording_sid: str, line: SupportLine) -> Hearing:
        with self._lock:
            heard = self._spotter(line.expected_greeting).hear(audio)
        if heard.decision == "silence":
            return Hearing("silence", "", heard.loudness.described(), self.name)
        greeting = (f"greeting {heard.greeting_score:+.0f} (counts from +{heard.greeting_from:g})"
                    if line.expected_greeting else "no greeting expected")
        scores = (f"{greeting}, maintenance {heard.maintenance_score:+.0f} (counts from "
                  f"+{heard.maintenance_from:g}) over the decoy phrases"
                  f"{' on a noisy line, filtered' if heard.noisy else ''}; {heard.cpu_s:.2f} s of CPU")
        if heard.too_noisy and heard.decision == "unclear":
            scores += (f"; the line's hiss is too loud (above {TOO_NOISY_FLOOR_DBFS:g} dBFS between words) to be "
                       "sure no maintenance message was said")
        said = {"greeting": heard.greeting_phrase, "maintenance": heard.maintenance_phrase}.get(heard.decision, "")
        if heard.decision == "unclear":
            said = spotted(heard)
        return Hearing(heard.decision, said, scores, self.name)

    def _spotter(self, greeting: str) -> PhraseSpotter:
        if greeting not in self._spotters:
            try:
                self._spotters[greeting] = PhraseSpotter([greeting] if greeting else [], self.maintenance_phrases)
            except PhraseNotSpeakable as exc:
                raise ProbeError(f"{exc}: reword expected_greeting / maintenance_phrases, or set "
                                 "speech_source = \"twilio_transcription\"") from None
        return self._spotters[greeting]


def spotted(heard: Heard) -> str:
    """The phrases that stood out of an unclear recording, for the report."""
    over = [repr(phrase) for phrase, score, need in (
        (heard.greeting_phrase, heard.greeting_score, heard.greeting_from),
        (heard.maintenance_phrase, heard.maintenance_score, heard.maintenance_from))
        if phrase and score is not None and score >= need]
    return {0: "no phrase stood out", 1: f"heard {' '.join(over)}"}.get(len(over), f"heard both {' and '.join(over)}")


def from_transcript(text: str, line: SupportLine, maintenance_phrases: list[str], source: str) -> Hearing:
    """A transcript's decision: a maintenance phrase in it first, then the line's greeting."""
    if not text.strip():
        return Hearing("unclear", "", "the transcript is empty", source)
    if shows_maintenance(text, maintenance_phrases):
        return Hearing("maintenance", text, f"says {shows_maintenance(text, maintenance_phrases)!r}", source)
    if line.expected_greeting and line.expected_greeting.lower() in text.lower():
        return Hearing("greeting", text, f"says {line.expected_greeting!r}", source)
    return Hearing("none", text, "none of the phrases is in the transcript", source)


class TwilioTranscription:
    """Twilio's transcription of the <Record> (asked for in the TwiML), read back over the REST API."""

    name = "Twilio's transcription"

    def __init__(self, client: Client, settings: VoiceCheck, sleep: Callable[[float], None] = time.sleep):
        self.client, self.settings, self.sleep = client, settings, sleep

    def hear(self, audio: Audio, recording_sid: str, line: SupportLine) -> Hearing:
        deadline = time.monotonic() + self.settings.transcription_deadline_s
        while time.monotonic() < deadline:
            for transcription in self.client.recordings(recording_sid).transcriptions.list(limit=5):
                if transcription.status == "completed":
                    return from_transcript(transcription.transcription_text or "", line,
                                           self.settings.maintenance_phrases, self.name)
                if transcription.status == "failed":
                    return Hearing("unclear", "", f"Twilio's transcription {transcription.sid} failed", self.name)
            self.sleep(self.settings.poll_interval_s)
        return Hearing("unclear", "", f"no transcript within {self.settings.transcription_deadline_s:g} s", self.name)


class ConversationalIntelligence:
    """A transcript of the recording by the target's Twilio Conversational Intelligence service:
    created from the recording's SID, polled until it is done (no webhook), its sentences read."""

    name = "Twilio Conversational Intelligence"
    DONE = ("completed", "failed", "canceled")

    def __init__(self, client: Client, settings: VoiceCheck, sleep: Callable[[float], None] = time.sleep):
        self.client, self.settings, self.sleep = client, settings, sleep

    def hear(self, audio: Audio, recording_sid: str, line: SupportLine) -> Hearing:
        s = self.settings
        try:
            transcript = self.client.intelligence.v2.transcripts.create(
                service_sid=s.intelligence_service_sid, channel={"media_properties": {"source_sid": recording_sid}})
        except TwilioRestException as exc:
            if exc.status in (401, 403):
                raise TwilioAccountError(f"Twilio refused the probe's account for Conversational Intelligence: "
                                         f"HTTP {exc.status}, error {exc.code}: {exc.msg}") from None
            raise ProbeError(f"Conversational Intelligence would not transcribe {recording_sid} with service "
                             f"{s.intelligence_service_sid}: HTTP {exc.status}, error {exc.code}: {exc.msg}") from None
        deadline = time.monotonic() + s.transcription_deadline_s
        while transcript.status not in self.DONE:
            if time.monotonic() >= deadline:
                return Hearing("unclear", "", f"transcript {transcript.sid} still {transcript.status} after "
                               f"{s.transcription_deadline_s:g} s", self.name)
            self.sleep(s.poll_interval_s)
            transcript = self.client.intelligence.v2.transcripts(transcript.sid).fetch()
        if transcript.status != "completed":
            return Hearing("unclear", "", f"transcript {transcript.sid} {transcript.status}", self.name)
        sentences = self.client.intelligence.v2.transcripts(transcript.sid).sentences.list()
        ordered = sorted(sentences, key=lambda sentence: sentence.sentence_index or 0)
        text = " ".join(sentence.transcript or "" for sentence in ordered)
        return from_transcript(text, line, s.maintenance_phrases, f"{self.name} ({transcript.sid})")


_LOCAL: dict[tuple[str, ...], LocalRecognition] = {}
_LOCAL_LOCK = threading.Lock()


def speech_source(settings: VoiceCheck, client: Client) -> SpeechSource:
    """The target's source; the local recognizer is shared by every line of the run (built once)."""
    if settings.speech_source == "twilio_transcription":
        return TwilioTranscription(client, settings)
    if settings.speech_source == "conversational_intelligence":
        return ConversationalIntelligence(client, settings)
    with _LOCAL_LOCK:
        phrases = tuple(settings.maintenance_phrases)
        return _LOCAL.setdefault(phrases, LocalRecognition(list(phrases)))


def decide(audio: Audio, measured: Loudness, recording_sid: str, line: SupportLine, settings: VoiceCheck,
           source: SpeechSource) -> Hearing:
    """Dead air from the recording's loudness (measured once by the caller), else the source's decision."""
    return dead_air(measured, settings.speech_within_s) or source.hear(audio, recording_sid, line)
