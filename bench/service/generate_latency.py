"""/v1/generate latency, and /v1/objects latency while generations run.

    python3 bench/service/generate_latency.py build/tools/astrofm/astrofm [ROUNDS]

Serves the shipped aion-default with the shipped scalar codecs over the BOSS
sample's test split tokenized (405 galaxies), then:
  1. POST /v1/generate {"ids": 64 ids, "to": "z", "from": ugriz} ROUNDS times, one at a time;
  2. the same from 2 client threads while a third thread GETs /v1/objects/{id}
     in a loop: that lookup's latency while generations run.
Prints JSON (medians and 90th percentiles in ms)."""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
A = sys.argv[1] if len(sys.argv) > 1 else str(ROOT / "build/tools/astrofm/astrofm")
ROUNDS = int(sys.argv[2]) if len(sys.argv) > 2 else 20


def run(*args):
    subprocess.run([A, "-q", *args], check=True, stdout=subprocess.DEVNULL)


def pct(v, q):
    v = sorted(v)
    return v[min(len(v) - 1, int(q * len(v)))]


def main():
    tmp = Path(tempfile.mkdtemp())
    run("import", "csv", str(ROOT / "data/sample/boss_dr10_photoz/galaxies.csv"), "--config", "boss", "--out", str(tmp / "boss"))
    run("tokenize", "--codecs", "codecs-scalar", "--data", str(tmp / "boss"), "--split", "test", "--out", str(tmp / "tok"))
    port_file = tmp / "port"
    env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE")
    p = subprocess.Popen([A, "-q", "serve", "--port", "0", "--port-file", str(port_file), "--quiet-log", "--model", "aion-default",
                          "--data", f"tok={tmp / 'tok'}"], env=env, stderr=subprocess.PIPE, text=True)
    for _ in range(600):
        if port_file.exists() and port_file.read_text().strip():
            break
        time.sleep(0.1)
    url = f"http://127.0.0.1:{port_file.read_text().strip()}"
    # The tokens dataset's ids, read with astrofm's own reader.
    sys.path.insert(0, str(ROOT / "build"))
    import astrofm
    ids = [str(x) for x in astrofm.open_dataset(str(tmp / "tok")).read(columns=["object_id"])["object_id"][:64]]
    body = json.dumps({"ids": ids, "to": "z", "from": [f"mag_{b}" for b in "ugriz"], "data": "tok"}).encode()

    def generate():
        t = time.perf_counter()
        req = urllib.request.Request(f"{url}/v1/generate", data=body, headers={"Content-Type": "application/json"})
        out = json.load(urllib.request.urlopen(req, timeout=300))
        assert len(out["objects"]) == 64
        return (time.perf_counter() - t) * 1e3

    generate()  # warm
    alone = [generate() for _ in range(ROUNDS)]
    busy, lookups, stop = [], [], threading.Event()

    def gen_loop():
        for _ in range(ROUNDS // 2):
            busy.append(generate())

    def lookup_loop():
        while not stop.is_set():
            t = time.perf_counter()
            urllib.request.urlopen(f"{url}/v1/objects/{ids[len(lookups) % 64]}?data=tok", timeout=300).read()
            lookups.append((time.perf_counter() - t) * 1e3)

    ts = [threading.Thread(target=gen_loop) for _ in range(2)]
    lk = threading.Thread(target=lookup_loop)
    lk.start()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    stop.set()
    lk.join()
    p.terminate()
    p.wait()
    print(json.dumps({"generate_ms_alone": {"median": statistics.median(alone), "p90": pct(alone, 0.9)},
                      "generate_ms_two_clients": {"median": statistics.median(busy), "p90": pct(busy, 0.9)},
                      "objects_ms_during_generation": {"median": statistics.median(lookups), "p90": pct(lookups, 0.9),
                                                       "n": len(lookups)},
                      "objects_per_request": 64, "rounds": ROUNDS}, indent=1))


if __name__ == "__main__":
    main()
