"""Pure-Python (no numpy) helpers: WAV/u-law reading, 8k->16k upsampling,
frame-energy silence features, phrase-matching utilities."""
import array, math, struct, sys

# ---------------------------------------------------------------- WAV reading
def _ulaw_table():
    t = []
    for u in range(256):
        u = ~u & 0xFF
        sign, exp, man = u & 0x80, (u >> 4) & 7, u & 0x0F
        s = (((man << 3) + 0x84) << exp) - 0x84
        t.append(-s if sign else s)
    return t

def _alaw_table():
    t = []
    for a in range(256):
        a ^= 0x55
        sign, exp, man = a & 0x80, (a >> 4) & 7, a & 0x0F
        s = (man << 4) + 8 if exp == 0 else ((man << 4) + 0x108) << (exp - 1)
        t.append(s if sign else -s)
    return t

ULAW = _ulaw_table()
ALAW = _alaw_table()


def read_wav(path):
    """Return (rate, array('h') mono int16). Handles PCM16 (1), A-law (6), u-law (7),
    WAVE_FORMAT_EXTENSIBLE. The stdlib `wave` module rejects u-law ("unknown format: 7")."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise ValueError("not a RIFF/WAVE file")
    pos, fmt, pcm = 12, None, None
    while pos + 8 <= len(data):
        cid, size = data[pos:pos + 4], struct.unpack("<I", data[pos + 4:pos + 8])[0]
        body = data[pos + 8:pos + 8 + size]
        if cid == b"fmt ":
            tag, ch, rate, _, _, bits = struct.unpack("<HHIIHH", body[:16])
            if tag == 0xFFFE and len(body) >= 26:
                tag = struct.unpack("<H", body[24:26])[0]
            fmt = (tag, ch, rate, bits)
        elif cid == b"data":
            pcm = body
        pos += 8 + size + (size & 1)
    if fmt is None or pcm is None:
        raise ValueError("missing fmt/data chunk")
    tag, ch, rate, bits = fmt
    if tag == 1 and bits == 16:
        a = array.array("h")
        a.frombytes(pcm[: len(pcm) // 2 * 2])
        if sys.byteorder == "big":
            a.byteswap()
    elif tag in (6, 7) and bits == 8:
        tab = ULAW if tag == 7 else ALAW
        a = array.array("h", [tab[b] for b in pcm])
    else:
        raise ValueError(f"unsupported WAV format tag={tag} bits={bits}")
    if ch > 1:  # keep first channel
        a = a[::ch]
    return rate, a


# ---------------------------------------------------------------- resampling
def upsample2_linear(x):
    """8 kHz -> 16 kHz by linear interpolation (fast, some imaging above 4 kHz)."""
    n = len(x)
    y = array.array("h", bytes(4 * n))
    y[0::2] = x
    mids = [(x[i] + x[i + 1]) >> 1 for i in range(n - 1)]
    mids.append(x[-1] if n else 0)
    y[1::2] = array.array("h", mids)
    return y

# 12-tap-per-side half-band low-pass (windowed sinc, Blackman) for the odd samples
_HB = [math.sin(math.pi * (k + 0.5)) / (math.pi * (k + 0.5)) *
       (0.42 + 0.5 * math.cos(math.pi * (k + 0.5) / 12) + 0.08 * math.cos(2 * math.pi * (k + 0.5) / 12))
       for k in range(12)]

def upsample2_fir(x):
    """8 kHz -> 16 kHz with a half-band FIR (cleaner, ~10x slower than linear)."""
    n = len(x)
    pad = [0] * 12
    xp = pad + list(x) + pad
    h = _HB
    odd = []
    ap = odd.append
    for i in range(12, 12 + n):
        s = 0.0
        for k in range(12):
            s += h[k] * (xp[i - k] + xp[i + 1 + k])
        v = int(s)
        ap(32767 if v > 32767 else (-32768 if v < -32768 else v))
    y = array.array("h", bytes(4 * n))
    y[0::2] = x
    y[1::2] = array.array("h", odd)
    return y


# ---------------------------------------------------------------- energy / silence
def frame_db(x, rate, win_ms=25, hop_ms=10):
    """Per-frame RMS in dBFS (full scale = 32768)."""
    w, h = int(rate * win_ms / 1000), int(rate * hop_ms / 1000)
    out = []
    for s in range(0, max(1, len(x) - w + 1), h):
        fr = x[s:s + w]
        e = sum(v * v for v in fr) / max(1, len(fr))
        out.append(10 * math.log10(e / (32768.0 ** 2) + 1e-12))
    return out


def energy_features(x, rate):
    db = frame_db(x, rate)
    s = sorted(db)
    n = len(s)
    p10, p50, p90, mx = s[int(0.10 * (n - 1))], s[int(0.5 * (n - 1))], s[int(0.90 * (n - 1))], s[-1]
    floor = p10
    # "voiced" = above an absolute floor AND clearly above the clip's own noise floor
    voiced = [d > -55.0 and d > floor + 6.0 for d in db]
    frac = sum(voiced) / n
    # longest voiced run (frames), tolerating 10-frame (100 ms) gaps
    best = run = gap = 0
    for v in voiced:
        if v:
            run += 1 + gap if run else 1
            gap = 0
        elif run:
            gap += 1
            if gap > 10:
                best, run, gap = max(best, run), 0, 0
    best = max(best, run)
    return dict(p10=round(p10, 1), p50=round(p50, 1), p90=round(p90, 1), max=round(mx, 1),
                voiced_frac=round(frac, 3), longest_voiced_s=best / 100.0)


# ---------------------------------------------------------------- phrase utilities
def norm_words(text):
    return "".join(c.lower() if (c.isalnum() or c == "'") else " " for c in text).split()


def local_align(pattern, seq, sub=1.0, ins=1.0, dele=1.0):
    """Best approximate occurrence of `pattern` anywhere in `seq` (semi-global edit
    distance: free prefix/suffix of seq). Returns (distance, normalized 1-d/len)."""
    m = len(pattern)
    if m == 0:
        return 0, 1.0
    prev = [j * dele for j in range(m + 1)]  # column over pattern positions
    best = prev[m]
    for tok in seq:
        cur = [0.0] * (m + 1)
        for j in range(1, m + 1):
            c = prev[j - 1] + (0 if pattern[j - 1] == tok else sub)
            c2 = prev[j] + ins          # extra token in seq
            c3 = cur[j - 1] + dele      # pattern token missing
            cur[j] = min(c, c2, c3)
        best = min(best, cur[m])
        prev = cur
    return best, max(0.0, 1.0 - best / m)
