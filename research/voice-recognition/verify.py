#!/usr/bin/env python3
"""Prototype of the post-maintenance call verifier's audio check (pocketsphinx 5.1.1, no numpy).

    python verify.py CLIP.wav [CLIP.wav ...]      -> one JSON line per clip

decide() returns one of: greeting | maintenance | none | silence | cant_tell
"""
import array, json, math, os, random, sys, tempfile, time

from pocketsphinx import Decoder, get_model_path

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from lib import read_wav, upsample2_linear, energy_features  # pure-Python helpers

# ------------------------------------------------------------------ configuration
GREETING_PHRASES = ["thank you for calling"]
MAINT_PHRASES = ["undergoing system maintenance", "encountered an error processing the call"]

# Decoy ("cohort") phrases: spotted alongside the real ones only to normalise each clip's scores
# (how well this voice/line matches *any* phrase). Their median is subtracted from the targets.
DECOYS = ["please leave a message after the tone", "the number you have dialed is not in service",
          "press one for sales", "all of our representatives are busy", "your call is important to us",
          "have a nice day", "office hours are monday through friday", "to speak with an operator",
          "if you know your party's extension", "enter your account number", "is not available right now",
          "for more options"]
UNDETECTED = -400.0   # per-phone score assumed for a decoy that produced no detection

# Thresholds on c = s_phrase - median(s_decoys), s = (log(seg.prob) + 1500) / n_phones
# (tuned on the tune halves of the espeak + flite/festival clip sets, rule below):
TG_HI = TG_LO = 75.0   # greeting evidence:    c_greet >= 75
TM_HI = TM_LO = 32.0   # maintenance evidence: c_maint >= 32
# rule: maint evidence & no greeting evidence -> maintenance; greeting & no maint -> greeting;
#       neither -> none; both -> cant_tell  (a maintenance clip can only become greeting if the
#       maintenance phrase is missed AND the greeting phrase false-fires)

NOISE_SIGMA = 100  # Gaussian noise (16-bit units, ~ -50 dBFS) added after 8k->16k upsampling
KWS_MAX = 1500     # constant pocketsphinx subtracts from kws detection scores (kws_search.c)

# Silence rule (25 ms frames, 10 ms hop, dBFS):
SIL_LONGEST = 0.30   # longest run of frames >6 dB above the 10th-percentile floor and > -55 dBFS
SIL_MEDIAN = -35.0   # ... and median frame below -35 dBFS  -> silence
SIL_ABS_MAX = -45.0  # or the loudest frame below -45 dBFS   -> silence

_MODEL = os.path.join(HERE, "models", "m16nr")   # en-us model with feat.params: -remove_noise no


def _cmudict():
    d = {}
    with open(get_model_path("en-us/cmudict-en-us.dict")) as f:
        for line in f:
            w, *p = line.split()
            if "(" not in w:
                d.setdefault(w, p)
    return d


def _norm(phrase):
    return " ".join("".join(c.lower() if c.isalnum() or c == "'" else " " for c in phrase).split())


class Verifier:
    def __init__(self, greeting=GREETING_PHRASES, maint=MAINT_PHRASES):
        cmu = _cmudict()
        self.labels = {}
        self.nph = {}
        for cat, phrases in (("greeting", greeting), ("maintenance", maint)):
            for p in phrases:
                p = _norm(p)
                missing = [w for w in p.split() if w not in cmu]
                if missing:   # kws silently cannot spot OOV words: refuse the configuration
                    raise ValueError(f"words not in the pronunciation dictionary: {missing}")
                self.labels[p] = cat
                self.nph[p] = sum(len(cmu[w]) for w in p.split())
        self.decoys = []
        for p in DECOYS:
            p = _norm(p)
            if all(w in cmu for w in p.split()) and p not in self.labels:
                self.decoys.append(p)
                self.labels[p] = "decoy"
                self.nph[p] = sum(len(cmu[w]) for w in p.split())
        words = sorted({w for p in self.labels for w in p.split()})
        tmp = tempfile.mkdtemp(prefix="verif_")
        dict_path = os.path.join(tmp, "phrases.dict")   # tiny dictionary: faster init
        with open(dict_path, "w") as f:
            for w in words:
                f.write(f"{w} {' '.join(cmu[w])}\n")
        kws_path = os.path.join(tmp, "phrases.kws")
        with open(kws_path, "w") as f:
            for p in self.labels:
                f.write(f"{p} /1e-300/\n")  # keep every candidate; decide with our own thresholds
        self.dec = Decoder(hmm=_MODEL, dict=dict_path, kws=kws_path, beam=1e-300,
                           loglevel="FATAL")        # beam: default 1e-48 prunes long phrases away
        rnd = random.Random(12345)
        self.noise = array.array("h", [int(rnd.gauss(0, NOISE_SIGMA)) for _ in range(65536)])

    def scores(self, pcm16k):
        d = self.dec
        d.start_utt()
        d.process_raw(pcm16k, full_utt=True)
        d.end_utt()
        lm = d.get_logmath()
        best = {"greeting": -1e9, "maintenance": -1e9}
        dec = {}
        for seg in d.seg() or []:                    # seg() is None if nothing detected
            p = seg.word.strip()                     # kws keeps the blank before "/thr/"
            s = (lm.log(seg.prob) + KWS_MAX) / self.nph[p]
            cat = self.labels[p]
            if cat == "decoy":
                dec[p] = max(dec.get(p, -1e9), s)
            else:
                best[cat] = max(best[cat], s)
        ds = sorted(list(dec.values()) + [UNDETECTED] * (len(self.decoys) - len(dec)))
        c = ds[len(ds) // 2] if ds else 0.0
        return {k: v - c for k, v in best.items()}

    def decide(self, path):
        rate, x = read_wav(path)
        if rate != 8000:
            raise ValueError("expected 8 kHz audio")
        en = energy_features(x, rate)
        if en["max"] < SIL_ABS_MAX or (en["longest_voiced_s"] < SIL_LONGEST and en["p50"] < SIL_MEDIAN):
            return "silence", {"energy": en}
        y = upsample2_linear(x)
        nz = self.noise
        y = array.array("h", [max(-32768, min(32767, v + nz[i & 65535])) for i, v in enumerate(y)])
        sc = self.scores(y.tobytes())
        g, m = sc["greeting"], sc["maintenance"]
        if m >= TM_HI and g < TG_LO:
            dec = "maintenance"
        elif g >= TG_HI and m < TM_LO:
            dec = "greeting"
        elif g < TG_LO and m < TM_LO:
            dec = "none"
        else:
            dec = "cant_tell"
        return dec, {"energy": en, "s_greeting": round(g, 1), "s_maint": round(m, 1)}


if __name__ == "__main__":
    t = time.process_time()
    v = Verifier()
    print(json.dumps({"init_cpu_s": round(time.process_time() - t, 3)}))
    for p in sys.argv[1:]:
        t = time.process_time()
        dec, info = v.decide(p)
        print(json.dumps({"file": os.path.basename(p), "decision": dec,
                          "cpu_s": round(time.process_time() - t, 3), **info}))
