"""Decode speed with a busy loop holding a core, against the quiet figure, in one run.

Each policy runs in its own process (llama.cpp's threads are set when the model loads): 3 greedy
128-token generations of SmolLM2-135M Q4_1 (speculative decoding off, so only threads differ),
first quiet, then beside `--hogs` Python busy loops. Policies:
  fixed-2   2 threads whatever the load (what Bakeoff did before the governor; llama.cpp's default)
  fixed-1   1 thread
  adaptive  up to 2 threads, fewer while other processes hold cores (engines/threads.py; the default)
Printed: median output tok/s and TTFT per policy, quiet and busy, and busy / quiet-of-fixed-2 (the
quiet figure users had). Target: adaptive keeps >= 0.4x with one of the two cores busy.

    .venv/bin/python benchmarks/busy_machine.py [--hogs 1] [--tokens 128] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

HOG = "while True:\n    pass\n"
POLICIES = {"fixed-2": (2, "false"), "fixed-1": (1, "false"), "adaptive": (2, "true")}

CHILD = r"""
import json, subprocess, sys, time
from bakeoff.engines import LoadOptions, open_engine
from bakeoff.engines.base import GenParams, collect
from bakeoff.models.packaged import smollm2_path
from bakeoff.models.ref import ModelRef
threads, tokens, repeats, hogs = (int(x) for x in sys.argv[1:5])
eng = open_engine(ModelRef(name="smol", engine="llamacpp", source="bench", path=str(smollm2_path())),
                  LoadOptions(n_ctx=1024, threads=threads, speculative=False))
def run(tag):
    out = []
    for i in range(repeats):
        params = GenParams(max_tokens=tokens, temperature=0, ignore_eos=True)
        r = collect(eng.complete(f"Story {tag}{i}: the lighthouse keeper", params))
        out.append({"tps": r.timings.output_tps, "ttft": r.timings.ttft_s, "threads": r.timings.threads})
    return out
run("warm")
quiet = run("q")
procs = [subprocess.Popen([sys.executable, "-c", "while True:\n    pass\n"]) for _ in range(hogs)]
time.sleep(1.0)
try:
    busy = run("b")
finally:
    for p in procs:
        p.kill()
print(json.dumps({"quiet": quiet, "busy": busy}))
"""


def measure(policy: str, tokens: int, repeats: int, hogs: int) -> dict:
    threads, adaptive = POLICIES[policy]
    env = {**os.environ, "BAKEOFF_ADAPTIVE_THREADS": adaptive}
    out = subprocess.run([sys.executable, "-c", CHILD, str(threads), str(tokens), str(repeats), str(hogs)],
                         env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def med(runs: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hogs", type=int, default=1)
    ap.add_argument("--tokens", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f}; {os.cpu_count()} CPUs; {args.hogs} busy loop(s); "
          f"{args.repeats} x {args.tokens} greedy tokens per cell")
    res = {p: measure(p, args.tokens, args.repeats, args.hogs) for p in POLICIES}
    base = med(res["fixed-2"]["quiet"], "tps")
    print(f"{'policy':9s} {'quiet tok/s':>11s} {'busy tok/s':>10s} {'busy/quiet(fixed-2)':>19s} "
          f"{'quiet TTFT':>10s} {'busy TTFT':>9s} {'threads busy':>12s}")
    for p, r in res.items():
        busy = med(r["busy"], "tps")
        print(f"{p:9s} {med(r['quiet'], 'tps'):11.1f} {busy:10.1f} {busy / base:19.2f}x "
              f"{med(r['quiet'], 'ttft') * 1000:8.0f}ms {med(r['busy'], 'ttft') * 1000:7.0f}ms "
              f"{min(x['threads'] for x in r['busy']):12d}")
    ok = med(res["adaptive"]["busy"], "tps") / base >= 0.4
    print(f"target adaptive busy >= 0.4x quiet: {'met' if ok else 'NOT met'}; load average after: "
          f"{os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
