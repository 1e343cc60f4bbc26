"""Multiple-choice scoring throughput: `bakeoff bench` path vs a naive scorer, same script.

Workload: the first N HellaSwag validation items (default 500), 0-shot, SmolLM2-135M.
- bench:  bakeoff.evals.bench.run_benchmark with an empty store (nothing cached): per item the
          shared context is evaluated once and the 4 endings are decoded together as parallel
          sequences, logits only at continuation positions.
- naive:  for every ending, a fresh cache and context + ending evaluated from scratch (one
          sequence, same tokenization, logits only at continuation positions).
The two run in alternating blocks of --block items (bench path grows its --limit by one block;
earlier items come from its store), so load from other processes on a shared machine hits both
alike. Prints items/s for both, the ratio, and whether the two agree item by item. Targets on a
2-core machine: ratio >= 1.7 and bench >= 4.5 items/s.

With --llama-cpp-bin DIR (a folder with llama.cpp's `llama-perplexity`; see
llamacpp_scorer_compare.py for how to build it) the same items are also timed through llama.cpp's
own multiple-choice scorer in the same run, so the absolute target can be read against what
llama.cpp itself manages on this machine.

Usage: .venv/bin/python benchmarks/mc_throughput.py [--items 500] [--model smollm2-135m] [--llama-cpp-bin DIR]
"""

from __future__ import annotations

import argparse
import atexit
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def naive_scores(engine, items) -> list[int]:
    """acc_norm predictions, every choice evaluated from an empty cache."""
    from bakeoff.engines.loglik import LogLikScorer

    preds = []
    for item in items:
        lls = []
        for pair in engine.loglik_pairs(item.requests):
            engine.h.clear()
            scorer = LogLikScorer(engine.h, [])
            lls.append(scorer.score_group([pair])[0].logprob)
        norm = np.array(lls) / np.array([max(len(c), 1) for c in item.choices])
        preds.append(int(np.argmax(norm)))
    engine.h.clear()
    return preds


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=500)
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--block", type=int, default=10, help="items per alternating block")
    ap.add_argument("--llama-cpp-bin", type=Path, default=None, help="folder with llama-perplexity")
    args = ap.parse_args()
    os.environ["BAKEOFF_HOME"] = home = tempfile.mkdtemp(prefix="bakeoff-mcbench-")  # empty store
    atexit.register(shutil.rmtree, home, True)   # never left in TMPDIR

    from bakeoff.engines import open_engine
    from bakeoff.evals.bench import get_task, run_benchmark
    from bakeoff.evals.bench.multiple_choice import build_item
    from bakeoff.evals.bench.runner import BENCH_LOAD

    spec = get_task("hellaswag")
    docs = spec.docs()
    items = [build_item(spec, docs, i, 0) for i in range(args.items)]

    engine = open_engine(args.model, BENCH_LOAD)
    naive_engine = open_engine(args.model)  # default engine: one sequence, 512-token batches
    bench_s = naive_s = 0.0
    naive_preds: list[int] = []
    for start in range(0, args.items, args.block):
        stop = min(start + args.block, args.items)
        t0 = time.perf_counter()
        result = run_benchmark("hellaswag", args.model, limit=stop, engine=engine)
        bench_s += time.perf_counter() - t0
        t0 = time.perf_counter()
        naive_preds += naive_scores(naive_engine, items[start:stop])
        naive_s += time.perf_counter() - t0
    bench_preds = [int(np.argmax(np.array(r["loglik"]) / np.array([max(len(c), 1) for c in it.choices])))
                   for r, it in zip(result.items, items)]
    model_path = str(engine.ref.path)
    engine.close()
    naive_engine.close()

    n = args.items
    bench_ips, naive_ips = n / bench_s, n / naive_s
    agree = sum(a == b for a, b in zip(bench_preds, naive_preds)) / n
    info = result.settings
    print(f"workload: first {n} HellaSwag validation items, 0-shot, {args.model} "
          f"({info.get('quantization')}), threads={info.get('threads')}, cpus={os.cpu_count()}, "
          f"{info.get('engine')}")
    print(f"bench path : {bench_ips:6.2f} items/s ({bench_s:.1f} s)   acc_norm "
          f"{result.scores['acc_norm'].value:.3f} ± {result.scores['acc_norm'].stderr:.3f}")
    print(f"naive      : {naive_ips:6.2f} items/s ({naive_s:.1f} s)")
    print(f"ratio bench/naive: {bench_ips / naive_ips:.2f}x (target >= 1.7x)   "
          f"absolute target >= 4.5 items/s: {'met' if bench_ips >= 4.5 else 'NOT met'}")
    print(f"acc_norm predictions agreeing between the two scorers: {agree:.1%}")
    if args.llama_cpp_bin is not None:
        from llamacpp_scorer_compare import mc_file, mc_tasks, run_llamacpp  # beside this script

        _, cpp_s = run_llamacpp(args.llama_cpp_bin, model_path, mc_file(mc_tasks(spec, items)),
                                int(info.get("threads") or 2), n, [])
        print(f"llama.cpp llama-perplexity --multiple-choice (default settings, incl. model load): "
              f"{n / cpp_s:6.2f} items/s; bench path / llama.cpp = {bench_ips / (n / cpp_s):.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
