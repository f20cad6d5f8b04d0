#!/usr/bin/env python3
"""Generate the synthetic call-recording clip set (8 kHz mono u-law WAV) + labels.csv.

Usage: python gen.py [outdir]   (default /tmp/proto/clips)
"""
import csv, os, random, subprocess, sys, tempfile, zlib
from concurrent.futures import ThreadPoolExecutor

OUT = sys.argv[1] if len(sys.argv) > 1 else "/tmp/proto/clips"
SET = sys.argv[2] if len(sys.argv) > 2 else "espeak"   # "espeak" (brief) or "natural" (flite/festival)
os.makedirs(OUT, exist_ok=True)
TMP = tempfile.mkdtemp(prefix="gen_", dir="/tmp/proto")
rng = random.Random(1234)

TEXT = {
    "greeting": "Thank you for calling Acme Support. Your call may be recorded. Please hold while we connect you.",
    "maint1": "We are currently undergoing system maintenance. Please try again later.",
    "maint2": "We have encountered an error processing the call. Please call back later.",
    "other1": "The office is closed for the holiday, goodbye.",
    "other2": "Hello, you have reached the billing department.",
}
TRUTH = {"greeting": "greeting", "maint1": "maintenance", "maint2": "maintenance",
         "other1": "none", "other2": "none"}
VARIANTS = {
    "greeting": ["clean", "white", "brown", "music", "music_noise"],
    "maint1": ["clean", "white", "brown", "music"],
    "maint2": ["clean", "white", "brown", "music"],
    "other1": ["clean", "white", "brown"],
    "other2": ["clean", "white", "brown"],
}
if SET == "espeak":
    VOICES = ["en-us", "en", "en+f3", "en+m3", "en-us+f2", "en-029"]
    TUNE_VOICES = {"en-us", "en+f3", "en-029"}   # the rest is the held-out test half
    SPEEDS = [140, 170, 200]
else:  # diphone/clustergen/HTS voices built from real recordings (apt: flite, festival, festvox-us-slt-hts)
    VOICES = ["flite:kal16", "flite:slt", "flite:awb", "flite:rms", "hts:slt"]
    TUNE_VOICES = {"flite:kal16", "flite:slt"}
    SPEEDS = [140, 170, 200]


def synth(voice, speed, text, out):
    if voice.startswith("flite:"):
        stretch = {140: 1.2, 170: 1.0, 200: 0.85}[speed]
        sh("flite", "-voice", voice[6:], "--setf", f"duration_stretch={stretch}", "-t", text, "-o", out)
    elif voice.startswith("hts:"):
        stretch = {140: 1.2, 170: 1.0, 200: 0.85}[speed]
        p = subprocess.run(["text2wave", "-eval", "(voice_cmu_us_slt_arctic_hts)", "-eval",
                            f"(Parameter.set 'Duration_Stretch {stretch})", "-o", out],
                           input=text, text=True, capture_output=True, check=True)
    else:
        sh("espeak-ng", "-v", voice, "-s", str(speed), "-w", out, text)


def sh(*cmd):
    subprocess.run(cmd, check=True, capture_output=True)


def dur(path):
    return float(subprocess.run(["soxi", "-D", path], check=True, capture_output=True, text=True).stdout)


# hold music: a little tone melody (two-voice "pluck"/sine), 8 kHz, looped to 20 s
MUSIC = os.path.join(TMP, "music.wav")
notes = ["C4", "E4", "G4", "C5", "G4", "E4", "F4", "A4", "C5", "A4", "G4", "E4", "D4", "G4", "B4", "D5"]
parts = []
for i, n in enumerate(notes):
    p = os.path.join(TMP, f"n{i}.wav")
    sh("sox", "-n", "-r", "8000", "-c", "1", "-b", "16", p, "synth", "0.35", "pluck", n,
       "synth", "0.35", "sine", "mix", n.replace("4", "3").replace("5", "4"), "gain", "-n", "-14", "fade", "0.01", "0.35", "0.05")
    parts.append(p)
one = os.path.join(TMP, "melody.wav")
sh("sox", *parts, one)
sh("sox", one, MUSIC, "repeat", "4", "trim", "0", "20")


def noise(kind, length, level_db, path):
    sh("sox", "-n", "-r", "8000", "-c", "1", "-b", "16", path, "synth", f"{length:.3f}", kind + "noise",
       "sinc", "200-3400", "gain", "-n", f"{level_db}")


def make(cid, key, voice, speed, variant):
    raw = os.path.join(TMP, cid + "_raw.wav")
    sp = os.path.join(TMP, cid + "_sp.wav")
    synth(voice, speed, TEXT[key], raw)
    speech_gain = rng.choice([-3, -6, -10, -14])
    sh("sox", raw, "-r", "8000", "-c", "1", "-b", "16", sp, "sinc", "250-3400", "gain", "-n", str(speech_gain))
    lead = rng.choice([0.0, 0.3, 1.0, 1.5, 2.0])
    sd = dur(sp)
    total = max(lead + sd + 0.5, rng.uniform(8, 15))
    body = os.path.join(TMP, cid + "_body.wav")
    if variant.startswith("music"):
        # speech, 0.3 s gap, then hold music until the end
        mus = os.path.join(TMP, cid + "_mus.wav")
        mlen = max(1.0, total - lead - sd - 0.3)
        sh("sox", MUSIC, mus, "trim", "0", f"{mlen:.3f}", "gain", str(rng.choice([-2, -6, -10])))
        # insert 0.3 s gap between speech and music
        sh("sox", sp, os.path.join(TMP, cid + "_sp2.wav"), "pad", f"{lead}", "0.3")
        sh("sox", os.path.join(TMP, cid + "_sp2.wav"), mus, body)
    else:
        sh("sox", sp, body, "pad", f"{lead}", f"{max(0.0, total - lead - sd):.3f}")
    total = dur(body)
    mixed = body
    nlev = None
    if variant in ("white", "brown", "music_noise"):
        kind = "white" if variant != "brown" else "brown"
        nlev = rng.choice([-45, -40, -35, -30])
        nz = os.path.join(TMP, cid + "_nz.wav")
        noise(kind, total, nlev, nz)
        mixed = os.path.join(TMP, cid + "_mix.wav")
        sh("sox", "-m", "-v", "1", body, "-v", "1", nz, mixed)
    out = os.path.join(OUT, cid + ".wav")
    sh("sox", mixed, "-r", "8000", "-c", "1", "-e", "u-law", "-b", "8", out)
    return dict(id=cid, truth=TRUTH[key], key=key, voice=voice, speed=speed, variant=variant,
                lead=lead, speech_gain=speech_gain, noise_db=nlev, dur=round(total, 2),
                split="tune" if voice in TUNE_VOICES else "test")


def make_nonspeech(cid, variant, split):
    total = rng.uniform(8, 15)
    tmp = os.path.join(TMP, cid + "_ns.wav")
    if variant == "silence":
        sh("sox", "-n", "-r", "8000", "-c", "1", "-b", "16", tmp, "trim", "0", f"{total:.3f}")
        nlev = None
    elif variant == "music_only":
        nlev = rng.choice([-2, -8])
        sh("sox", MUSIC, tmp, "trim", "0", f"{total:.3f}", "gain", str(nlev))
    else:
        kind = variant.split("_")[0]  # white_xx / brown_xx
        nlev = int(variant.split("_")[1])
        noise(kind, total, -nlev, tmp)
    out = os.path.join(OUT, cid + ".wav")
    sh("sox", tmp, "-r", "8000", "-c", "1", "-e", "u-law", "-b", "8", out)
    truth = "none" if variant == "music_only" else "silence"
    return dict(id=cid, truth=truth, key=variant, voice="", speed="", variant=variant, lead="",
                speech_gain="", noise_db=nlev, dur=round(total, 2), split=split)


jobs = []
n = 0
for voice in VOICES:
    for speed in SPEEDS:
        for key, vs in VARIANTS.items():
            for v in vs:
                n += 1
                cid = f"{key}_{voice.replace('+', '-').replace(':', '-')}_{speed}_{v}"
                jobs.append(("s", cid, key, voice, speed, v))
ns_variants = ["silence", "white_50", "white_45", "white_40", "white_35", "white_30",
               "brown_45", "brown_35", "brown_30", "music_only"]
for rep in (range(3) if SET == "espeak" else range(3, 5)):
    for v in ns_variants:
        jobs.append(("n", f"ns_{v}_{rep}", v, "tune" if rep == 0 else "test"))

# pre-draw randomness deterministically per job: reseed per job
def run(job):
    global rng
    local = random.Random(zlib.crc32(job[1].encode()))
    rng_backup = rng
    try:
        globals()["rng"] = local
        if job[0] == "s":
            return make(*job[1:])
        return make_nonspeech(*job[1:])
    finally:
        globals()["rng"] = rng_backup

with ThreadPoolExecutor(1) as ex:   # sequential: rng global swapped per job
    rows = list(ex.map(run, jobs))

with open(os.path.join(OUT, "labels.csv"), "w", newline="") as f:
    w = csv.DictWriter(f, fieldnames=list(rows[0].keys()))
    w.writeheader()
    w.writerows(rows)
subprocess.run(["rm", "-rf", TMP])
print(len(rows), "clips ->", OUT)
