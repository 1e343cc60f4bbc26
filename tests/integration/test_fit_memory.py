"""The memory estimate against measured resident memory of the two embedded models.

Each model runs in its own fresh subprocess (nothing else this test session loaded counts; the two
run side by side to save time): RSS after loading and generating 16 tokens, compared with
fit.estimate at the same context length, computed in the same subprocess from the same file.
"""

from __future__ import annotations

import json
import subprocess
import sys

from bakeoff.models.registry import Registry

MEASURE = """
import json, sys, psutil
from bakeoff.engines import GenParams, LoadOptions, collect, open_engine
from bakeoff.models import fit
from bakeoff.models.gguf_info import read_gguf_info
from bakeoff.models.registry import Registry
ref = Registry().resolve(sys.argv[1])
n_ctx = int(sys.argv[2])
engine = open_engine(ref, LoadOptions(n_ctx=n_ctx))
resp = collect(engine.complete("The capital of France is", GenParams.build(max_tokens=16, temperature=0)))
rss = psutil.Process().memory_info().rss
est = fit.estimate(read_gguf_info(ref.path), n_ctx)
print(json.dumps({"rss": rss, "estimate": est.total_bytes, "tokens": resp.usage.completion_tokens}))
"""

# gemma3-270m at 8192 exercises the sliding-window rule (llama.cpp keeps a full-size cache there).
CASES = [("smollm2-135m", 4096), ("gemma3-270m", 8192)]


def test_estimate_within_15_percent_of_measured_rss() -> None:
    Registry().resolve("gemma3-270m")   # assemble the packaged Gemma once, outside the measurement
    procs = {name: subprocess.Popen([sys.executable, "-c", MEASURE, name, str(n_ctx)], text=True,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for name, n_ctx in CASES}
    ratios = {}
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-2000:]
        m = json.loads(out.strip().splitlines()[-1])
        assert m["tokens"] > 0
        ratios[name] = m["estimate"] / m["rss"]
        print(f"{name}: estimate {m['estimate'] / 2**20:.0f} MiB, measured RSS {m['rss'] / 2**20:.0f} MiB, "
              f"ratio {ratios[name]:.3f}")
    assert all(0.85 <= r <= 1.15 for r in ratios.values()), ratios
