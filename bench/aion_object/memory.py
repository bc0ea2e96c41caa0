"""What one AION model costs a process that embeds and generates: the
separate objects the service held before (an Encoder, a Generator's own copy
of the transformer and codecs, the embeddings route's own codecs) against one
astrofm.AION. Each case runs in a fresh process; resident (RSS) and
proportional (PSS) memory after opening, in MB.

    PYTHONPATH=build python3 bench/aion_object/memory.py [model] [codec ...]
"""
import json
import subprocess
import sys

MODEL = sys.argv[1] if len(sys.argv) > 1 else "aion-default"
CODECS = sys.argv[2:] or ["codecs-scalar", "codec-image", "codec-spectrum"]

CASE = r'''
import json, sys
from astrofm import _core
import astrofm
model, codecs, case = sys.argv[1], sys.argv[2].split(","), sys.argv[3]
def mem():
    out = {}
    for line in open("/proc/self/smaps_rollup"):
        k, v = line.split(":", 1)
        if k in ("Rss", "Pss"):
            out[k] = int(v.split()[0]) / 1024
    return out
base = mem()
keep = []
if case == "separate":
    keep += [_core.Encoder(model), _core.AionModel(model), _core.CodecSet(codecs), _core.CodecSet(codecs)]
else:
    keep.append(astrofm.AION(model, codecs=codecs))
now = mem()
print(json.dumps({k: round(now[k] - base[k], 1) for k in now}))
'''

rows = {}
for case in ("separate", "one AION"):
    r = subprocess.run([sys.executable, "-c", CASE, MODEL, ",".join(CODECS), "separate" if case == "separate" else "one"],
                       capture_output=True, text=True, check=True)
    rows[case] = json.loads(r.stdout.strip().splitlines()[-1])  # after any warnings
print(f"model {MODEL}, codecs {', '.join(CODECS)}")
print("| objects | RSS MB | PSS MB |\n|---|---|---|")
for case, m in rows.items():
    print(f"| {case} | {m['Rss']:.1f} | {m['Pss']:.1f} |")
