"""The sandbox IVR's voice: what a support line plays when the probe's call is answered, as real speech.

Speech is made with espeak-ng (a Debian package, installed by `make setup`) and brought to a phone
line's 8 kHz by sox; hold music and line noise are made here. A recording is served as 8-bit μ-law
WAV, as telephone audio is carried, so the probe hears what it would hear from Twilio: the check is
decided from sound, not from a transcript the sandbox hands it. Each clip is made once per process.
"""

from __future__ import annotations

import array
import functools
import math
import random
import shutil
import struct
import subprocess
from dataclasses import dataclass

from allclear.config import ConfigError

RATE = 8000
LEAD_S = 0.4        # the line is quiet this long after answering, before it speaks
TAIL_S = 0.8        # ...and after it has spoken
NOISE_DBFS = -62.0  # the faint hiss of a quiet line


class SpeechUnavailable(ConfigError):
    """espeak-ng or sox is missing: the sandbox's support lines cannot speak (told before any check runs)."""


@dataclass(frozen=True)
class Voice:
    """An espeak-ng voice and its speed in words a minute."""

    name: str = "en-us"
    speed: int = 175


MAIN_VOICE = Voice()
SECOND_VOICE = Voice("en-us+f3", 150)       # the greeting recorded by someone else: still the greeting


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise SpeechUnavailable(f"the sandbox's support lines speak with espeak-ng and sox, and {name} is not "
                                "installed: Debian/Ubuntu: sudo apt-get install espeak-ng sox; macOS: brew install "
                                "espeak-ng sox (or switch the target's [voice] off)")
    return path


def check_tools() -> None:
    for name in ("espeak-ng", "sox"):
        _tool(name)


@functools.cache
def spoken(text: str, voice: Voice = MAIN_VOICE) -> array.array:
    """`text` said by `voice`: 16-bit samples at 8 kHz, band-limited to a phone line's 250–3400 Hz."""
    speech = subprocess.run([_tool("espeak-ng"), "-v", voice.name, "-s", str(voice.speed), "--stdout", text],
                            capture_output=True, check=True, timeout=60).stdout
    # -R: sox dithers its output with a new random seed each run, so the same words came out a
    # little different every time, and a borderline call decided differently run to run
    narrowed = subprocess.run([_tool("sox"), "-R", "-t", "wav", "-", "-r", str(RATE), "-c", "1", "-b", "16",
                               "-e", "signed-integer", "-t", "raw", "-", "sinc", "250-3400", "gain", "-n", "-6"],
                              input=speech, capture_output=True, check=True, timeout=60).stdout
    samples = array.array("h")
    samples.frombytes(narrowed[: len(narrowed) // 2 * 2])
    return samples


def quiet(seconds: float, seed: int = 1, dbfs: float = NOISE_DBFS) -> array.array:
    """A line with nothing on it but its hiss (`dbfs` loud)."""
    rng, sigma = random.Random(seed), 32768 * 10 ** (dbfs / 20)
    return array.array("h", [int(rng.gauss(0, sigma)) for _ in range(int(seconds * RATE))])


def hold_music(seconds: float) -> array.array:
    """A plucked arpeggio with line noise under it, as a queue plays after the greeting."""
    notes = [261.6, 329.6, 392.0, 523.3, 392.0, 329.6, 349.2, 440.0]
    note_s, out = 0.35, array.array("h")
    for index in range(int(seconds / note_s) + 1):
        frequency = notes[index % len(notes)]
        out.extend(int(5000 * math.exp(-4 * n / RATE) * (math.sin(2 * math.pi * frequency * n / RATE)
                                                          + 0.5 * math.sin(math.pi * frequency * n / RATE)))
                   for n in range(int(note_s * RATE)))
    hiss = quiet(seconds, seed=7)
    return array.array("h", [max(-32768, min(32767, a + 4 * b)) for a, b in zip(out, hiss, strict=False)])


def mixed(first: array.array, second: array.array) -> array.array:
    """Two signals at once (the shorter one padded with nothing)."""
    longer, shorter = (first, second) if len(first) >= len(second) else (second, first)
    out = array.array("h", longer)
    for index, value in enumerate(shorter):
        out[index] = max(-32768, min(32767, out[index] + value))
    return out


def line_plays(speech: array.array | None, after: str = "quiet", at_least_s: float = 0.0) -> array.array:
    """What the line plays from the moment it answers: a short pause, the speech, then `after`
    (quiet or hold music) until at least `at_least_s`. No speech at all is dead air."""
    out = quiet(LEAD_S)
    if speech is not None:
        out.extend(speech)
    rest = max(TAIL_S if speech is not None else 0.0, at_least_s - len(out) / RATE)
    out.extend(hold_music(rest) if after == "music" else quiet(rest, seed=3))
    return out


def _ulaw(sample: int) -> int:
    """G.711 μ-law encoding of one 16-bit sample."""
    sign = 0x80 if sample < 0 else 0
    magnitude = min(-sample if sample < 0 else sample, 32635) + 0x84
    exponent = max(0, magnitude.bit_length() - 8)
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    return ~(sign | (exponent << 4) | mantissa) & 0xFF


ULAW_CODES = bytes(_ulaw(v) for v in range(-32768, 32768))


def ulaw_wav(samples: array.array) -> bytes:
    """Mono 8 kHz μ-law WAV (format tag 7, with the `fact` chunk a non-PCM WAV carries)."""
    data = bytes(ULAW_CODES[v + 32768] for v in samples)
    fmt = struct.pack("<HHIIHHH", 7, 1, RATE, RATE, 1, 8, 0)
    chunks = (b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"fact" + struct.pack("<II", 4, len(samples))
              + b"data" + struct.pack("<I", len(data)) + data + b"\0" * (len(data) & 1))
    return b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WAVE" + chunks
