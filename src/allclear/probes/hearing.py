"""What a support line said, decided here from the recording: its greeting, the vendor's maintenance
recording, neither, or dead air — and "could not tell" rather than a guess.

pocketsphinx (its pip wheel ships the en-us model; nothing is downloaded) spots the configured phrases
as keyphrases, beside decoy phrases of ordinary phone menus whose scores tell how well this voice and
line match anything at all: a phrase counts by how far it stands above the decoys. When both a
greeting and a maintenance phrase stand out, the answer is "could not tell": a maintenance recording
must never pass for a greeting. Measurements and the rejected alternatives: research/voice-recognition.

Before decoding, a tonal tail (hold music after the speech) is cut off, and a line whose noise floor is
high is cleaned with a Wiener filter and judged with its own thresholds: at about 8 dB SNR the
recognizer hears the phrases only faintly, and the quiet-line thresholds missed two thirds of them.
"""

from __future__ import annotations

import atexit
import functools
import os
import random
import re
import shutil
import tempfile
import time
from dataclasses import dataclass

import numpy as np

from allclear.probes.audio import Audio, Loudness, loudness

DECOYS = ["please leave a message after the tone", "the number you have dialed is not in service",
          "press one for sales", "all of our representatives are busy", "your call is important to us",
          "have a nice day", "office hours are monday through friday", "to speak with an operator",
          "if you know your party's extension", "enter your account number", "is not available right now",
          "for more options"]
UNDETECTED = -400.0            # a decoy not spotted at all, per phone
# Thresholds on (phrase score - median decoy score), per phone, tuned on half of the benchmark's voices
# and checked on the other half (benchmarks/RESULTS.md). A maintenance "part" is a configured
# maintenance phrase less its first or its last word: British and Caribbean voices say the whole
# phrase too far from the US dictionary, and the part still stands out.
GREETING_OVER_DECOYS = 100.0
MAINTENANCE_OVER_DECOYS = 70.0
MAINTENANCE_PART_OVER_DECOYS = 100.0
NOISY = {"greeting": 80.0, "maintenance": 40.0, "part": 80.0}   # the same, on a noisy (filtered) line
GREETING_LEAD = 50.0           # a greeting must stand this far above any maintenance score, or "unclear":
                               # "...processing the call" half-matches "thank you for calling"
# The greeting is what a line says first: it counts only when it starts within this long of the first
# speech. "…encountered an error processing the call", said in an accent the maintenance phrase missed,
# was heard as "thank you for calling" two seconds in (generated greetings start within 0.05 s).
GREETING_OPENS_WITHIN_S = 1.0
NOISY_FLOOR_DBFS = -45.0
# Louder hiss than this (about 10 dB under the speech) hides what follows the greeting: a maintenance
# message said after it was missed there, so a greeting heard on such a line is "could not tell"; and
# a maintenance message said in an accent was missed whole (RESULTS.md), so hearing none of the
# phrases there proves nothing either: only a maintenance phrase heard through the hiss decides.
TOO_NOISY_FLOOR_DBFS = -35.0       # a line whose quietest tenth is louder than this is filtered
STRETCH_FRAMES = 50            # 0.5 s of 10 ms frames: where hold music may be cut off (music_tail)
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
    maintenance_score: float | None   # the whole phrases' or their parts', whichever is further over its threshold
    loudness: Loudness
    cpu_s: float
    greeting_phrase: str = ""      # the best-scoring phrase of each kind
    maintenance_phrase: str = ""
    greeting_from: float = GREETING_OVER_DECOYS       # the thresholds this line was judged by
    maintenance_from: float = MAINTENANCE_OVER_DECOYS
    noisy: bool = False
    too_noisy: bool = False        # a greeting or none on this line is "unclear": the hiss may hide a message


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
        self._kind |= {part: "part" for p in maintenance for part in _parts(words_of(p)) if part not in self._kind}
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
        self._shown = self._add_british(keyphrases)
        self._phones = {p: sum(len((self._decoder.lookup_word(w) or "x").split()) for w in p.split())
                        for p in self._kind}
        rng = random.Random(12345)
        self._noise = np.array([int(rng.gauss(0, NOISE_SIGMA)) for _ in range(65536)], dtype=np.float64)

    def _add_british(self, keyphrases: str) -> dict[str, str]:
        """Each maintenance phrase (and part) again, with its words as a British speaker says them where
        the dictionary's US pronunciation differs (see `british`): the keyphrase search reads only a
        word's first pronunciation, so an alternate "processing(2)" would never be used; the variant is
        its own keyphrase of the same kind, spelled with new words ("processing_gb"). Returns each
        variant's phrase as configured, for the report."""
        shown = {}
        for phrase, kind in list(self._kind.items()):
            if kind not in ("maintenance", "part"):
                continue
            words = []
            for word in phrase.split():
                spoken = self._decoder.lookup_word(word)
                said = british(word, spoken)
                if said != spoken and self._decoder.lookup_word(f"{word}_gb") is None:
                    self._decoder.add_word(f"{word}_gb", said, False)
                words.append(f"{word}_gb" if said != spoken else word)
            variant = " ".join(words)
            if variant not in self._kind:
                self._kind[variant], shown[variant] = kind, phrase
        if shown:
            with open(keyphrases, "a") as out:
                out.writelines(f"{phrase} /1e-300/\n" for phrase in shown)
            self._decoder.add_kws("phrases", keyphrases)      # the dictionary is updated with the search
            self._decoder.activate_search("phrases")
        return shown

    def hear(self, audio: Audio) -> Heard:
        started = time.process_time()
        measured = loudness(audio)
        if measured.dead_air:
            return Heard("silence", None, None, measured, round(time.process_time() - started, 3))
        samples, noisy, too_noisy = np.array(audio.samples, dtype=np.float64), False, False
        if audio.rate == 8000 and len(samples) >= 8000:   # the filters are tuned on telephone audio
            samples = samples[:music_tail(samples)]
            floor = noise_floor_dbfs(samples)
            noisy, too_noisy = floor > NOISY_FLOOR_DBFS, floor > TOO_NOISY_FLOOR_DBFS
            if noisy:
                samples = wiener(samples)
        opens_by = (measured.first_speech_s or 0.0) + GREETING_OPENS_WITHIN_S
        scores = self._scores(self._to_16k(samples, audio.rate), opens_by)
        (greeting, greeting_phrase), (maintenance, whole_phrase), (part, part_phrase), (late, _) = scores
        need = NOISY if noisy else {"greeting": GREETING_OVER_DECOYS, "maintenance": MAINTENANCE_OVER_DECOYS,
                                    "part": MAINTENANCE_PART_OVER_DECOYS}
        heard_maintenance = maintenance >= need["maintenance"] or part >= need["part"]
        if greeting >= need["greeting"] and heard_maintenance:
            decision = "unclear"
        elif heard_maintenance:
            decision = "maintenance"
        elif greeting >= need["greeting"]:
            clear = greeting - max(maintenance, part) >= GREETING_LEAD and not too_noisy
            decision = "greeting" if clear else "unclear"
        elif late >= need["greeting"]:        # a prompt or chime before it, or the maintenance words heard
            decision = "unclear"              # like it: could not tell, never a failure of the vendor's
        else:
            decision = "unclear" if too_noisy else "none"
        if part - need["part"] > maintenance - need["maintenance"]:   # report the stronger evidence, on the
            maintenance, whole_phrase = part - need["part"] + need["maintenance"], part_phrase  # whole's scale
        return Heard(decision, round(greeting, 1), round(maintenance, 1), measured,
                     round(time.process_time() - started, 3), greeting_phrase, whole_phrase,
                     need["greeting"], need["maintenance"], noisy, too_noisy)

    def _to_16k(self, samples: np.ndarray, rate: int) -> bytes:
        if rate == 8000:                 # telephone audio: twice the samples, each new one between two
            doubled = np.empty(2 * len(samples))
            doubled[0::2] = samples
            doubled[1:-1:2] = np.floor((samples[:-1] + samples[1:]) / 2)
            doubled[-1:] = samples[-1:]
            samples = doubled
        elif rate != 16000:
            raise ValueError(f"recordings at {rate} Hz are not read (8000 or 16000 Hz)")
        dithered = samples + np.resize(self._noise, len(samples))
        return np.clip(dithered, -32768, 32767).astype("<i2").tobytes()

    def _scores(self, pcm: bytes, greeting_by_s: float = float("inf")) -> tuple[tuple[float, str], ...]:
        """Each kind's best score over the decoys' median; a greeting counts only where it starts by
        `greeting_by_s` (the line says it first)."""
        decoder = self._decoder
        decoder.start_utt()
        decoder.process_raw(pcm, full_utt=True)
        decoder.end_utt()
        logmath = decoder.get_logmath()
        best = {"greeting": (-1e9, ""), "maintenance": (-1e9, ""), "part": (-1e9, ""), "late": (-1e9, "")}
        decoys: dict[str, float] = {}
        for segment in decoder.seg() or []:             # None when nothing was spotted
            phrase = segment.word.strip()
            score = (logmath.log(segment.prob) + KWS_OFFSET) / self._phones[phrase]
            kind = self._kind[phrase]
            if kind == "greeting" and segment.start_frame / 100 > greeting_by_s:
                kind = "late"
            if kind == "decoy":
                decoys[phrase] = max(decoys.get(phrase, -1e9), score)
            else:
                best[kind] = max(best[kind], (score, self._shown.get(phrase, phrase)))
        count = sum(1 for kind in self._kind.values() if kind == "decoy")
        ordered = sorted([*decoys.values(), *[UNDETECTED] * (count - len(decoys))])
        middle = ordered[len(ordered) // 2] if ordered else 0.0
        return tuple((best[kind][0] - middle, best[kind][1]) for kind in ("greeting", "maintenance", "part", "late"))


def british(word: str, phones: str) -> str:
    """The word as a British speaker says it, from its US pronunciation: an "o" before one consonant
    letter and a vowel letter, which the US dictionary gives the LOT vowel (AA), is the GOAT vowel (OW)
    in British English ("processing" P R OW S EH S IH NG, as British dictionaries and espeak-ng's en-gb
    voice have it). Said the US way, the en-gb voice's "encountered an error processing" scored 36
    (+70 needed); this way, 79. Only this rule is used: dropping the r (non-rhotic "error" EH R AH) and
    "-in'" for "-ing" raised the other texts' scores about as much as the maintenance ones, and a
    made-up maintenance match costs a missed greeting (benchmarks/RESULTS.md)."""
    if not re.search(r"o[b-df-hj-np-tv-z][aeiouy]", word):
        return phones
    return " ".join("OW" if phone == "AA" else phone for phone in phones.split())


def _parts(phrase: str) -> list[str]:
    """A phrase of three words or more less its first word, and less its last: spotted on their own,
    they catch the phrase said in an accent whose one word the dictionary gets wrong."""
    words = phrase.split()
    return [" ".join(words[1:]), " ".join(words[:-1])] if len(words) >= 3 else []


def _frames(samples: np.ndarray, size: int, hop: int) -> np.ndarray:
    count = max(1, 1 + (len(samples) - size) // hop)
    return samples[np.arange(size)[None, :] + hop * np.arange(count)[:, None]]


def noise_floor_dbfs(samples: np.ndarray) -> float:
    """The level of the quietest tenth of 10 ms frames (8 kHz): the line's hiss under the speech."""
    frames = _frames(samples, 80, 80)
    return float(np.percentile(10 * np.log10((frames ** 2).mean(axis=1) / 32768.0 ** 2 + 1e-12), 10))


def music_tail(samples: np.ndarray) -> int:
    """Where hold music begins, if it plays to the end (else the length). Decoded with the speech, the
    music skewed the maintenance scores (its cepstral mean mostly), so it is cut off first.

    A frame is tonal when one spectral peak holds still for 80 ms or more around it: notes do that,
    speech glides. Music is what follows the first 0.5 s stretch after which every stretch has at least
    85% of its loud frames tonal (hold music: over 90%; espeak's speech: at most about 60%, and 80% in a
    lone short stretch), with 1 s of tonal sound in it. The cut falls on a stretch's edge, after the
    last stretch that sounds like speech: words said before the music (a maintenance message after
    the greeting) are never cut off, which a looser cut did, into the middle of the speech.
    """
    power = np.abs(np.fft.rfft(_frames(samples, 256, 80) * np.hanning(256), axis=1)) ** 2 + 1e-3
    level = 10 * np.log10(power.sum(axis=1))
    loud = level > np.percentile(level, 10) + 6
    peak = power[:, 4:80].argmax(axis=1)                       # 125–2500 Hz
    same = np.r_[False, peak[1:] == peak[:-1]]
    held = np.zeros(len(peak), dtype=bool)
    run = 0
    for index in range(len(peak)):                             # a run of 8 equal peaks, all its frames
        run = run + 1 if same[index] else 0
        if run >= 7:
            held[index - run:index + 1] = True
    tonal = held & loud
    stretches = range(0, len(peak), STRETCH_FRAMES)
    musical = [tonal[i:i + STRETCH_FRAMES].sum() >= 0.85 * loud[i:i + STRETCH_FRAMES].sum() for i in stretches]
    first = len(musical)
    while first > 0 and musical[first - 1]:
        first -= 1
    start = first * STRETCH_FRAMES
    if start * 80 < 8000 or tonal[start:].sum() < 100:         # music from the start, or hardly any: keep it all
        return len(samples)
    return start * 80


def wiener(samples: np.ndarray) -> np.ndarray:
    """A Wiener filter with the decision-directed a-priori SNR (Ephraim–Malah, a = 0.98, gain floor 0.1;
    32 ms frames at 8 kHz, half overlap); the noise spectrum is the mean of the quietest 15% of frames.
    Plain spectral subtraction helped less (its musical noise looks like speech to the recognizer)."""
    size, hop = 256, 128
    window = np.sqrt(np.hanning(size + 1)[:size])
    spectrum = np.fft.rfft(_frames(samples, size, hop) * window, axis=1)
    power = np.abs(spectrum) ** 2
    energy = power.sum(axis=1)
    noise = power[energy <= np.percentile(energy, 15)].mean(axis=0) + 1e-9
    gains = np.empty_like(power)
    previous = np.ones(power.shape[1])
    for index, frame in enumerate(power):
        snr = frame / noise
        prior = np.maximum(0.98 * previous + 0.02 * np.maximum(snr - 1, 0), 1e-3)
        gains[index] = np.maximum(prior / (1 + prior), 0.1)
        previous = gains[index] ** 2 * snr
    frames = np.fft.irfft(spectrum * gains, n=size, axis=1) * window
    out = np.zeros(len(samples))
    for index, frame in enumerate(frames):
        out[index * hop:index * hop + size] += frame
    return out
