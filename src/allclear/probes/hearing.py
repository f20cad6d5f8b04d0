"""What a support line said, decided here from the recording: its greeting, the vendor's maintenance
recording, neither, or dead air — and "could not tell" rather than a guess.

pocketsphinx (its pip wheel ships the en-us model; nothing is downloaded) spots the configured phrases
as keyphrases, beside decoy phrases of ordinary phone menus whose scores tell how well this voice and
line match anything at all: a phrase counts by how far it stands above the decoys. When both a
greeting and a maintenance phrase stand out, the answer is "could not tell": a maintenance recording
must never pass for a greeting. Measurements and the rejected alternatives: research/voice-recognition.
"""

from __future__ import annotations

import array
import atexit
import functools
import os
import random
import shutil
import tempfile
import time
from dataclasses import dataclass

from allclear.probes.audio import Audio, Loudness, loudness

DECOYS = ["please leave a message after the tone", "the number you have dialed is not in service",
          "press one for sales", "all of our representatives are busy", "your call is important to us",
          "have a nice day", "office hours are monday through friday", "to speak with an operator",
          "if you know your party's extension", "enter your account number", "is not available right now",
          "for more options"]
UNDETECTED = -400.0            # a decoy not spotted at all, per phone
GREETING_OVER_DECOYS = 100.0   # thresholds on (phrase score - median decoy score), per phone (benchmarks/RESULTS.md)
MAINTENANCE_OVER_DECOYS = 60.0
KWS_OFFSET = 1500              # pocketsphinx takes this off every keyphrase detection's score
NOISE_SIGMA = 100              # added after upsampling: the empty band above 4 kHz wrecks the scores


class PhraseNotSpeakable(ValueError):
    """A configured phrase has a word the recognizer's dictionary does not know."""


@dataclass(frozen=True)
class Heard:
    """Scores are a phrase's margin over the decoys, per phone (counted from GREETING_OVER_DECOYS and
    MAINTENANCE_OVER_DECOYS)."""

    decision: str                  # greeting | maintenance | none | silence | unclear
    greeting_score: float | None
    maintenance_score: float | None
    loudness: Loudness
    cpu_s: float
    greeting_phrase: str = ""      # the best-scoring phrase of each kind
    maintenance_phrase: str = ""


def words_of(phrase: str) -> str:
    return " ".join("".join(c.lower() if c.isalnum() or c == "'" else " " for c in phrase).split())


@functools.cache
def _model() -> str:
    """The shipped en-us model with its noise removal off (its feat.params overrides the Decoder's
    arguments, so a copy of the folder, the other files linked, carries the change)."""
    from pocketsphinx import get_model_path

    shipped, copy = get_model_path("en-us/en-us"), tempfile.mkdtemp(prefix="allclear-model-")
    atexit.register(shutil.rmtree, copy, True)
    for name in os.listdir(shipped):
        if name != "feat.params":
            os.symlink(os.path.join(shipped, name), os.path.join(copy, name))
    with open(os.path.join(shipped, "feat.params")) as source, open(os.path.join(copy, "feat.params"), "w") as out:
        out.writelines(line for line in source if not line.startswith("-remove_noise"))
        out.write("-remove_noise no\n")
    return copy


class PhraseSpotter:
    """Built once per run (about 0.2 s), then about 0.7 s of CPU per recording."""

    def __init__(self, greetings: list[str], maintenance: list[str]):
        from pocketsphinx import Decoder

        # A phrase given both ways counts as maintenance: the maintenance recording must never pass.
        self._kind = {words_of(p): "greeting" for p in greetings} | {words_of(p): "maintenance" for p in maintenance}
        self._kind |= {words_of(p): "decoy" for p in DECOYS if words_of(p) not in self._kind}
        folder = tempfile.mkdtemp(prefix="allclear-phrases-")
        atexit.register(shutil.rmtree, folder, True)
        keyphrases = os.path.join(folder, "phrases.kws")
        with open(keyphrases, "w") as out:       # every candidate kept: the thresholds decide
            out.writelines(f"{phrase} /1e-300/\n" for phrase in self._kind)
        self._decoder = Decoder(hmm=_model(), kws=keyphrases, beam=1e-300, loglevel="FATAL")  # long phrases
        unknown = [w for p, kind in self._kind.items() if kind != "decoy" for w in p.split()
                   if self._decoder.lookup_word(w) is None]
        if unknown:
            raise PhraseNotSpeakable(f"the recognizer does not know the word(s) {', '.join(sorted(set(unknown)))}")
        self._phones = {p: sum(len((self._decoder.lookup_word(w) or "x").split()) for w in p.split())
                        for p in self._kind}
        rng = random.Random(12345)
        self._noise = array.array("h", [int(rng.gauss(0, NOISE_SIGMA)) for _ in range(65536)])

    def hear(self, audio: Audio) -> Heard:
        started = time.process_time()
        measured = loudness(audio)
        if measured.dead_air:
            return Heard("silence", None, None, measured, round(time.process_time() - started, 3))
        (greeting, greeting_phrase), (maintenance, maintenance_phrase) = self._scores(self._to_16k(audio))
        if maintenance >= MAINTENANCE_OVER_DECOYS and greeting >= GREETING_OVER_DECOYS:
            decision = "unclear"
        elif maintenance >= MAINTENANCE_OVER_DECOYS:
            decision = "maintenance"
        elif greeting >= GREETING_OVER_DECOYS:
            decision = "greeting"
        else:
            decision = "none"
        return Heard(decision, round(greeting, 1), round(maintenance, 1), measured,
                     round(time.process_time() - started, 3), greeting_phrase, maintenance_phrase)

    def _to_16k(self, audio: Audio) -> bytes:
        if audio.rate == 16000:
            samples = audio.samples
        elif audio.rate == 8000:         # telephone audio: twice the samples, each new one between two
            samples = array.array("h", bytes(4 * len(audio.samples)))
            samples[0::2] = audio.samples
            pairs = zip(audio.samples, audio.samples[1:], strict=False)
            samples[1::2] = array.array("h", [(a + b) >> 1 for a, b in pairs] + list(audio.samples[-1:]))
        else:
            raise ValueError(f"recordings at {audio.rate} Hz are not read (8000 or 16000 Hz)")
        noise = self._noise
        return array.array("h", [max(-32768, min(32767, v + noise[i & 65535]))
                                 for i, v in enumerate(samples)]).tobytes()

    def _scores(self, pcm: bytes) -> tuple[tuple[float, str], tuple[float, str]]:
        decoder = self._decoder
        decoder.start_utt()
        decoder.process_raw(pcm, full_utt=True)
        decoder.end_utt()
        logmath = decoder.get_logmath()
        best = {"greeting": (-1e9, ""), "maintenance": (-1e9, "")}
        decoys: dict[str, float] = {}
        for segment in decoder.seg() or []:             # None when nothing was spotted
            phrase = segment.word.strip()
            score = (logmath.log(segment.prob) + KWS_OFFSET) / self._phones[phrase]
            kind = self._kind[phrase]
            if kind == "decoy":
                decoys[phrase] = max(decoys.get(phrase, -1e9), score)
            else:
                best[kind] = max(best[kind], (score, phrase))
        count = sum(1 for kind in self._kind.values() if kind == "decoy")
        ordered = sorted([*decoys.values(), *[UNDETECTED] * (count - len(decoys))])
        middle = ordered[len(ordered) // 2] if ordered else 0.0
        return tuple((score - middle, phrase) for score, phrase in (best["greeting"], best["maintenance"]))
