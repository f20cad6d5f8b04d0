"""What a line said, decided locally from its recording: clips made with espeak-ng at 8 kHz μ-law (tests/data/voice)."""

from __future__ import annotations

from pathlib import Path

import pytest

from allclear.probes.audio import Audio, read_wav
from allclear.probes.hearing import PhraseNotSpeakable, PhraseSpotter
from tests.test_audio import quiet, ulaw

VOICE = Path(__file__).with_name("data") / "voice"
MAINTENANCE = ["undergoing system maintenance", "encountered an error processing the call"]


@pytest.fixture(scope="module")
def spotter():
    return PhraseSpotter(["Thank you for calling"], MAINTENANCE)


@pytest.mark.parametrize("clip, decision", [
    ("greeting.wav", "greeting"),
    ("maintenance.wav", "maintenance"),
    ("maintenance-error.wav", "maintenance"),
    ("other.wav", "none"),
])
def test_each_clip_is_heard_for_what_it_says(spotter, clip, decision):
    heard = spotter.hear(read_wav((VOICE / clip).read_bytes()))
    assert heard.decision == decision, heard


def test_dead_air_is_silence_without_asking_the_recognizer(spotter):
    heard = spotter.hear(read_wav(ulaw(quiet(4.0, -60))))
    assert heard.decision == "silence" and heard.greeting_score is None


def test_a_maintenance_recording_is_never_heard_as_the_greeting_even_if_its_words_are_the_greeting():
    """A line whose expected greeting is set to the maintenance words themselves cannot pass."""
    confused = PhraseSpotter(["undergoing system maintenance"], MAINTENANCE)
    assert confused.hear(read_wav((VOICE / "maintenance.wav").read_bytes())).decision == "maintenance"


def test_a_phrase_the_recognizer_cannot_say_is_refused_when_built():
    with pytest.raises(PhraseNotSpeakable, match="zyxqv"):
        PhraseSpotter(["thank you for calling zyxqv"], MAINTENANCE)


def test_a_greeting_and_the_maintenance_recording_together_is_unclear_not_a_guess(spotter):
    greeting, maintenance = (read_wav((VOICE / name).read_bytes()) for name in ("greeting.wav", "maintenance.wav"))
    both = Audio(greeting.rate, greeting.samples + maintenance.samples)
    assert spotter.hear(both).decision == "unclear"
