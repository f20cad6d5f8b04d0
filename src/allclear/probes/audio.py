"""A call recording's audio, read and measured here: the evidence for "the line answered with dead air".

Twilio serves a recording as WAV (16-bit PCM, or 8-bit μ-law as telephone audio is carried); Python's
`wave` module refuses μ-law, so the RIFF chunks are read here. Loudness is measured per 25 ms frame
(10 ms apart) in dBFS with `array` and `math` only, and a clip is dead air when nothing in it is
loud enough for long enough to be speech. The rule and its numbers come from the measurements in
research/voice-recognition (speech clips had a voiced run of 0.53 s at least; noise-only clips none).
"""

from __future__ import annotations

import array
import math
import struct
import sys
from dataclasses import dataclass

FRAME_S, HOP_S = 0.025, 0.010
VOICED_FLOOR_DBFS = -55.0       # a frame quieter than this is never speech
VOICED_OVER_NOISE_DB = 6.0      # ...and it must stand this far above the clip's quiet frames (10th percentile)
LOUD_FLOOR_DBFS = -45.0         # ...or only this far, when those frames are louder than this
VOICED_OVER_LOUD_NOISE_DB = 3.0  # and steady (the median frame within STEADY_FLOOR_DB of them): see loudness()
STEADY_FLOOR_DB = 2.0
BRIDGE_S = 0.10                 # gaps this short inside a voiced run do not end it
SPEECH_RUN_S = 0.30             # the shortest voiced run taken for speech
SILENT_PEAK_DBFS = -45.0        # a clip whose loudest frame is quieter than this is silent outright
QUIET_MEDIAN_DBFS = -35.0


class AudioUnreadable(ValueError):
    """The recording is not a WAV file we can read (its format named)."""


@dataclass(frozen=True)
class Audio:
    rate: int
    samples: array.array          # mono, 16-bit signed

    @property
    def seconds(self) -> float:
        return len(self.samples) / self.rate if self.rate else 0.0


@dataclass(frozen=True)
class Loudness:
    """What the frames of a clip say: enough to call it dead air, and when speech began."""

    seconds: float
    peak_dbfs: float
    median_dbfs: float
    longest_voiced_s: float
    first_speech_s: float | None      # start of the first voiced run long enough to be speech

    @property
    def dead_air(self) -> bool:
        if self.peak_dbfs < SILENT_PEAK_DBFS:
            return True
        return self.longest_voiced_s < SPEECH_RUN_S and self.median_dbfs < QUIET_MEDIAN_DBFS

    def described(self) -> str:
        heard = (f"speech from {self.first_speech_s:.1f} s" if self.first_speech_s is not None
                 else "no speech")
        return (f"{self.seconds:.1f} s of audio, {heard}; loudest {self.peak_dbfs:.0f} dBFS, "
                f"longest voiced run {self.longest_voiced_s:.2f} s")


def _ulaw_table() -> list[int]:
    """G.711 μ-law to 16-bit linear, all 256 codes."""
    table = []
    for code in range(256):
        code = ~code & 0xFF
        sign, exponent, mantissa = code & 0x80, (code >> 4) & 7, code & 0x0F
        magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84
        table.append(-magnitude if sign else magnitude)
    return table


ULAW = _ulaw_table()


def read_wav(data: bytes) -> Audio:
    """PCM 16-bit or μ-law WAV (WAVE_FORMAT_EXTENSIBLE included); the first channel of a stereo one."""
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise AudioUnreadable(f"not a WAV file (it begins {data[:12]!r})")
    position, fmt, pcm = 12, None, None
    while position + 8 <= len(data):
        chunk, size = data[position:position + 4], struct.unpack("<I", data[position + 4:position + 8])[0]
        body = data[position + 8:position + 8 + size]
        if chunk == b"fmt " and len(body) >= 16:
            tag, channels, rate, _, _, bits = struct.unpack("<HHIIHH", body[:16])
            if tag == 0xFFFE and len(body) >= 26:
                tag = struct.unpack("<H", body[24:26])[0]
            fmt = (tag, channels, rate, bits)
        elif chunk == b"data":
            pcm = body
        position += 8 + size + (size & 1)
    if fmt is None or pcm is None:
        raise AudioUnreadable("a WAV file without its fmt or data chunk")
    tag, channels, rate, bits = fmt
    if tag == 1 and bits == 16:
        samples = array.array("h")
        samples.frombytes(pcm[: len(pcm) // 2 * 2])
        if sys.byteorder == "big":
            samples.byteswap()
    elif tag == 7 and bits == 8:
        samples = array.array("h", [ULAW[byte] for byte in pcm])
    else:
        raise AudioUnreadable(f"a WAV format we do not read (format tag {tag}, {bits} bits a sample)")
    if channels > 1:
        samples = samples[::channels]
    return Audio(rate, samples)


def loudness(audio: Audio) -> Loudness:
    frame, hop = max(1, int(audio.rate * FRAME_S)), max(1, int(audio.rate * HOP_S))
    samples = audio.samples
    levels = []
    for start in range(0, max(1, len(samples) - frame + 1), hop):
        window = samples[start:start + frame]
        power = sum(s * s for s in window) / max(1, len(window))
        levels.append(10 * math.log10(power / 32768.0 ** 2) if power > 0 else -120.0)
    ordered = sorted(levels)
    quiet, median = ordered[len(ordered) // 10], ordered[len(ordered) // 2]
    # Under a loud, steady hiss (a bad line) speech stands only about 8 dB above the noise, and falls
    # back into it between syllables: 6 dB over it, its voiced runs were 0.25-0.4 s and two greetings
    # were ruled dead air. Steady noise itself stays within 2 dB of its 10th percentile, so 3 dB is
    # still clear of it. Hold music is not steady (its median is 4-5 dB over its quiet frames) and
    # keeps the 6 dB: with 3 dB its runs grew to 0.23 s, near the 0.30 s taken for speech.
    steady_loud = quiet > LOUD_FLOOR_DBFS and median - quiet <= STEADY_FLOOR_DB
    margin = VOICED_OVER_LOUD_NOISE_DB if steady_loud else VOICED_OVER_NOISE_DB
    voiced = [level > VOICED_FLOOR_DBFS and level > quiet + margin for level in levels]
    longest, first = _voiced_runs(voiced, HOP_S)
    return Loudness(seconds=round(audio.seconds, 3), peak_dbfs=ordered[-1], median_dbfs=median,
                    longest_voiced_s=longest, first_speech_s=first)


def _voiced_runs(voiced: list[bool], hop_s: float) -> tuple[float, float | None]:
    """The longest voiced run (short gaps bridged) and when the first one long enough for speech began."""
    bridge = int(BRIDGE_S / hop_s)
    longest, first, start, gap = 0.0, None, None, 0
    for index, on in enumerate([*voiced, False]):
        if on:
            start, gap = (index if start is None else start), 0
            continue
        if start is None:
            continue
        gap += 1
        if gap <= bridge and index < len(voiced):
            continue
        length = (index - gap + 1 - start) * hop_s
        longest = max(longest, length)
        if first is None and length >= SPEECH_RUN_S:
            first = round(start * hop_s, 2)
        start, gap = None, 0
    return round(longest, 2), first
