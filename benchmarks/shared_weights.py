"""Memory of a base model served beside its tuned variant: one shared llama.cpp model (what the
engine does now, engines/llama_models.py) against two loads of the same bytes (what it did before:
each context loaded the file again). The "two loads" side opens the tuned model through a hard link
of the base file, a different path to the same inode, which the sharing does not merge.

Each scenario runs in a fresh process: open the engines (SmolLM2-135M Q4_1, the test suite's random
LoRA adapter on q/v, n_ctx 512, CPU), answer one greedy prompt each, then read the process's RSS
and PSS (psutil; PSS: each page divided among the mappings that hold it, so a file mapped
twice counts once, where RSS counts it twice; USS would count it not at all). Repeated
--repeats times; prints medians, the range, and the ratios two loads / shared.

    .venv/bin/python benchmarks/shared_weights.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MIB = 1 << 20

CHILD = """
import json, os, sys
import psutil
from bakeoff.engines import GenParams, Message, collect, open_engine
from bakeoff.engines.options import LoadOptions
from bakeoff.models.ref import Adapter, ModelRef

base_path, adapter, scenario = sys.argv[1:4]
opts = LoadOptions(n_ctx=512, gpu_layers=0, threads=2)
refs = [ModelRef(name="base", engine="llamacpp", source="local", path=base_path)]
if scenario != "base alone":
    tuned_path = base_path if scenario == "shared" else base_path + ".link"
    refs.append(ModelRef(name="tuned", engine="llamacpp", source="local", path=tuned_path,
                         adapters=[Adapter(adapter)]))
engines = [open_engine(r, opts) for r in refs]
texts = [collect(e.chat([Message(role="user", content="Name three colors.")],
                        GenParams(temperature=0, max_tokens=8))).text for e in engines]
mem = psutil.Process().memory_full_info()
print(json.dumps({"rss": mem.rss, "pss": mem.pss, "texts": texts}))
"""


def tuned_adapter(home: Path, base: Path) -> str:
    sys.path.insert(0, str(ROOT / "tests"))
    from bakeoff.settings import Settings
    from tuned_models import register_tuned

    settings = Settings(home=home)
    (home / "models").mkdir(exist_ok=True)
    _, folder, _ = register_tuned(settings, base)
    return str(next(folder.glob("*.gguf")))


def run(base: Path, adapter: str, scenario: str) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, str(base), adapter, scenario], check=True,
                         capture_output=True, text=True, env={**os.environ, "BAKEOFF_HOME": str(base.parent)})
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    from bakeoff.models.packaged import smollm2_path

    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        base = home / "base.gguf"
        shutil.copyfile(smollm2_path(), base)
        os.link(base, str(base) + ".link")
        adapter = tuned_adapter(home, base)
        scenarios = ["base alone", "shared", "two loads"]
        got: dict[str, list[dict]] = {s: [] for s in scenarios}
        for _ in range(args.repeats):   # interleaved, so the machine's state changes hit all alike
            for s in scenarios:
                got[s].append(run(base, adapter, s))
    texts = {s: got[s][0]["texts"] for s in scenarios}
    assert texts["shared"] == texts["two loads"], texts   # the same answers either way
    print(f"SmolLM2-135M Q4_1 ({os.path.getsize(smollm2_path()) / MIB:.1f} MiB file) + LoRA adapter, "
          f"n_ctx 512, n={args.repeats} fresh processes each, load {os.getloadavg()[0]:.2f}")
    med = {}
    for s in scenarios:
        for key in ("rss", "pss"):
            vals = [g[key] / MIB for g in got[s]]
            med[s, key] = statistics.median(vals)
            print(f"  {s:<10} {key.upper()} median {med[s, key]:7.1f} MiB (range {min(vals):.1f}-{max(vals):.1f})")
    for key in ("rss", "pss"):
        extra_two = med["two loads", key] - med["base alone", key]
        extra_shared = med["shared", key] - med["base alone", key]
        print(f"  {key.upper()}: two loads / shared {med['two loads', key] / med['shared', key]:.2f}x; "
              f"the tuned model adds {extra_two:.1f} MiB loaded again, {extra_shared:.1f} MiB shared")


if __name__ == "__main__":
    main()
