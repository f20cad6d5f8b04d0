"""Reading a call recording and telling dead air from speech, on audio made here (no tools needed)."""

from __future__ import annotations

import io
import math
import random
import struct
import wave

import pytest

from allclear.probes.audio import AudioUnreadable, loudness, read_wav

RATE = 8000


def tone_bursts(seconds: float, level_dbfs: float = -20.0) -> list[float]:
    """Syllable-like sound: a 220 Hz voice-band tone, its loudness rising and falling four times a second."""
    amplitude = 10 ** (level_dbfs / 20)
    return [amplitude * (0.55 + 0.45 * math.sin(2 * math.pi * 4 * n / RATE)) * math.sin(2 * math.pi * 220 * n / RATE)
            for n in range(int(seconds * RATE))]


def quiet(seconds: float, noise_dbfs: float | None = None, seed: int = 7) -> list[float]:
    spread, rng = (10 ** (noise_dbfs / 20) if noise_dbfs is not None else 0.0), random.Random(seed)
    return [rng.gauss(0, spread) if spread else 0.0 for _ in range(int(seconds * RATE))]


def pcm16(signal: list[float], channels: int = 1) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(channels)
        wav.setsampwidth(2)
        wav.setframerate(RATE)
        frames = [max(-32768, min(32767, int(x * 32767))) for x in signal for _ in range(channels)]
        wav.writeframes(struct.pack(f"<{len(frames)}h", *frames))
    return out.getvalue()


def ulaw(signal: list[float]) -> bytes:
    """G.711 μ-law WAV (format tag 7), as a telephone line carries it."""
    codes = bytes(_ulaw_code(max(-32768, min(32767, int(x * 32767)))) for x in signal)
    fmt = struct.pack("<HHIIHH", 7, 1, RATE, RATE, 1, 8)
    return (b"RIFF" + struct.pack("<I", 4 + 8 + len(fmt) + 8 + len(codes)) + b"WAVE"
            + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(codes)) + codes)


def _ulaw_code(sample: int) -> int:
    sign = 0x80 if sample < 0 else 0
    magnitude = min(abs(sample), 32635) + 0x84
    exponent = max(0, magnitude.bit_length() - 8)
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    return ~(sign | (exponent << 4) | mantissa) & 0xFF


GREETING_AFTER_2_S = quiet(2.0, -65) + tone_bursts(1.5) + quiet(1.0, -65)


@pytest.mark.parametrize("encode", [pcm16, ulaw], ids=["pcm16", "ulaw"])
def test_speech_after_a_pause_is_heard_and_timed(encode):
    heard = loudness(read_wav(encode(GREETING_AFTER_2_S)))
    assert not heard.dead_air
    assert heard.first_speech_s == pytest.approx(2.0, abs=0.1) and heard.longest_voiced_s >= 1.2
    assert "speech from 2.0 s" in heard.described()


@pytest.mark.parametrize("signal, why", [
    (quiet(4.0), "digital silence"),
    (quiet(4.0, -50), "line hiss alone"),
    (quiet(2.0, -65) + tone_bursts(0.05, -10) + quiet(2.0, -65), "a click on the line"),
])
def test_dead_air(signal, why):
    heard = loudness(read_wav(ulaw(signal)))
    assert heard.dead_air, why
    assert heard.first_speech_s is None


def test_a_stereo_recording_is_read_by_its_first_channel():
    audio = read_wav(pcm16(GREETING_AFTER_2_S, channels=2))
    assert audio.rate == RATE and audio.seconds == pytest.approx(4.5, abs=0.01)
    assert not loudness(audio).dead_air


@pytest.mark.parametrize("data, words", [
    (b"<html>Not Found</html>", "not a WAV file (it begins b'<html>Not Fo'"),
    (ulaw(quiet(0.1)).replace(struct.pack("<HHIIHH", 7, 1, RATE, RATE, 1, 8),
                              struct.pack("<HHIIHH", 6, 1, RATE, RATE, 1, 8)), "format tag 6, 8 bits"),
    (b"RIFF\x04\x00\x00\x00WAVE", "without its fmt or data chunk"),
])
def test_what_cannot_be_read_says_what_it_was(data, words):
    with pytest.raises(AudioUnreadable, match=words.replace("(", r"\(").replace("[", r"\[")):
        read_wav(data)
