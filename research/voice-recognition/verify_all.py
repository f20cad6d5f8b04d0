#!/usr/bin/env python3
"""Run verify.Verifier end-to-end on every clip of one or more clip sets (2 worker processes)."""
import csv, json, os, sys, time
from multiprocessing import Pool
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from collections import Counter
V = None
def work(path):
    global V
    if V is None:
        import verify
        V = verify.Verifier()
    t, w = time.process_time(), time.time()
    d, info = V.decide(path)
    return path, d, time.process_time() - t, time.time() - w
if __name__ == "__main__":
    items = []
    for cs in sys.argv[1:]:
        for r in csv.DictReader(open(f"/tmp/proto/{cs}/labels.csv")):
            items.append((f"/tmp/proto/{cs}/{r['id']}.wav", r["truth"], cs, r["split"]))
    truth = {p: (t, cs, sp) for p, t, cs, sp in items}
    out = []
    with Pool(2) as pool:
        for p, d, cpu, wall in pool.imap(work, [i[0] for i in items], chunksize=4):
            out.append((p, d, cpu, wall))
    json.dump(out, open("/tmp/proto/verify_all.json", "w"))
    for cs in sys.argv[1:]:
        for sp in ("tune", "test"):
            C = Counter((truth[p][0], d) for p, d, *_ in out if truth[p][1] == cs and truth[p][2] == sp)
            n = sum(C.values()); right = sum(v for (t, d), v in C.items() if t == d)
            cant = sum(v for (t, d), v in C.items() if d == "cant_tell")
            print(f"{cs}/{sp}: n={n} right={right} ({100*right/n:.1f}%) cant_tell={cant} maint->greeting={C[('maintenance','greeting')]}")
    cpu = [c for *_, c, w in out]; wall = [w for *_, w in out]
    print(f"cpu/clip mean {sum(cpu)/len(cpu):.2f} max {max(cpu):.2f}; wall/clip mean {sum(wall)/len(wall):.2f} max {max(wall):.2f}")
