"""Item-by-item check of our multiple-choice scoring against llama.cpp's own scorer (llama-perplexity).

llama.cpp's C++ tools are not part of the Python package, so build them once from the llama.cpp
sources that llama-cpp-python vendors (its sdist) and pass the folder holding `llama-perplexity`:

    pip download --no-binary :all: --no-deps llama-cpp-python==<version> && tar xf llama_cpp_python-*.tar.gz
    cmake -S llama_cpp_python-*/vendor/llama.cpp -B build -DGGML_NATIVE=ON -DLLAMA_CURL=OFF
    cmake --build build -j --target llama-perplexity
    .venv/bin/python benchmarks/llamacpp_scorer_compare.py --bin build/bin [--items 500] [--task hellaswag]

What it does: our task's first N items (the same preprocessed text lm-evaluation-harness scores) are
written in llama-perplexity's `--multiple-choice` binary format (question = our context, answers =
our choices; llama.cpp joins them with one space, as the harness's target delimiter does). That mode
keeps the file's task order and prints the running accuracy after each task, so each task's verdict
is the step in the running count. llama.cpp's statistic differs from the harness's acc_norm: it
tokenizes question + " " + answer whole (with BOS where the model wants one), scores the tokens after
the prefix common to all answers, and picks the answer with the highest *mean* token log-probability.
This script computes that same statistic with our engine (our log-likelihood path on exactly those
token splits), so the per-item verdicts should agree up to near-ties, and prints:
  - llama.cpp's accuracy and items/s, our accuracy on its statistic, per-item agreement, the largest
    margin among disagreements;
  - our harness-style acc_norm on the same items (what `bakeoff bench` reports), for reference.
"""

from __future__ import annotations

import argparse
import os
import re
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def pack_string(s: str) -> bytes:
    data = s.encode("utf-8")
    return struct.pack("<I", len(data)) + data


def pack_answers(answers: list[str], labels: list[int]) -> bytes:
    out = struct.pack("<I", len(answers)) + b"".join(pack_string(a) for a in answers)
    return out + struct.pack(f"<{len(labels)}i", *labels)


def mc_file(tasks: list[tuple[str, list[str], int]]) -> bytes:
    """llama-perplexity's multiple-choice format: n, offsets, then question + mc1 + (empty) mc2."""
    bodies = [pack_string(q) + pack_answers(a, [int(i == gold) for i in range(len(a))]) + pack_answers([], [])
              for q, a, gold in tasks]
    header = 4 + 4 * len(bodies)
    offsets, pos = [], header
    for b in bodies:
        offsets.append(pos)
        pos += len(b)
    return struct.pack("<I", len(bodies)) + struct.pack(f"<{len(bodies)}I", *offsets) + b"".join(bodies)


def mc_tasks(spec, items) -> list[tuple[str, list[str], int]]:
    """(question, answers, gold) per item: our context, and our choices without the delimiter that
    llama.cpp puts back itself (one space, as the harness's target delimiter)."""
    delim = spec.target_delimiter
    return [(it.requests[0].context, [r.continuation[len(delim):] for r in it.requests], it.gold) for it in items]


def llamacpp_env(bin_dir: Path) -> dict[str, str]:
    """The environment for a llama.cpp tool built with shared libraries beside it."""
    return {**os.environ, "LD_LIBRARY_PATH": f"{bin_dir}:{os.environ.get('LD_LIBRARY_PATH', '')}"}


def run_llamacpp(bin_dir: Path, model: str, data: bytes, threads: int, n_tasks: int,
                 extra: list[str]) -> tuple[list[bool], float]:
    """Per-task correctness (from the running accuracy it prints) and wall seconds."""
    with tempfile.NamedTemporaryFile(suffix=".bin", delete=False) as f:
        f.write(data)
    cmd = [str(bin_dir / "llama-perplexity"), "-m", model, "-bf", f.name, "--multiple-choice",
           "-t", str(threads), *extra]
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=llamacpp_env(bin_dir))
    finally:
        os.unlink(f.name)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"llama-perplexity failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    running = [(int(m.group(1)), float(m.group(2)))
               for m in re.finditer(r"^(\d+)\t([\d.]+)$", proc.stdout + proc.stderr, re.M)]
    if len(running) != n_tasks:
        raise SystemExit(f"expected {n_tasks} per-task lines from llama-perplexity, got {len(running)}")
    correct, prev = [], 0
    for n_done, pct in running:
        hits = round(pct * n_done / 100)
        correct.append(hits > prev)
        prev = hits
    return correct, wall


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", required=True, type=Path, help="folder with llama-perplexity")
    ap.add_argument("--items", type=int, default=500)
    ap.add_argument("--task", default="hellaswag")
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--llama-args", default="-c 1024 -np 16",
                    help="extra llama-perplexity options (-c is per sequence; it allocates c*np*n_vocab "
                         "floats for logits, so keep c*np modest)")
    args = ap.parse_args()

    from bakeoff.engines import open_engine
    from bakeoff.engines.loglik import LogLikScorer, Pair, common_prefix, score_pairs
    from bakeoff.evals.bench import get_task
    from bakeoff.evals.bench.metrics import mean_stderr
    from bakeoff.evals.bench.multiple_choice import build_item, score_item
    from bakeoff.evals.bench.runner import BENCH_LOAD

    spec = get_task(args.task)
    if spec.kind != "multiple_choice" or spec.partial:
        raise SystemExit(f"{args.task}: only multiple-choice tasks with a shared context compare this way")
    docs = spec.docs()
    items = [build_item(spec, docs, i, 0) for i in range(min(args.items, len(docs)))]
    tasks = mc_tasks(spec, items)

    engine = open_engine(args.model, BENCH_LOAD.model_copy(update={"threads": args.threads}))
    model_path = engine.ref.path
    theirs, their_s = run_llamacpp(args.bin, model_path, mc_file(tasks), args.threads, len(tasks),
                                    args.llama_args.split())

    # llama.cpp's statistic through our engine: same token splits, mean log-prob after the common prefix.
    ours, margins, acc_norm = [], [], []
    t0 = time.perf_counter()
    for (q, answers, gold), item in zip(tasks, items):
        seqs = [engine.h.tokenize(q + " " + a, add_special=True, parse_special=False) for a in answers]
        cp = common_prefix(seqs)
        pairs = [Pair(s[:cp], s[cp:]) for s in seqs]
        lls = score_pairs(LogLikScorer(engine.h, []), pairs)
        means = np.array([r.logprob / max(r.n_tokens, 1) for r in lls])
        order = np.argsort(-means)
        ours.append(int(order[0]) == gold)
        margins.append(float(means[order[0]] - means[order[1]]))
        acc_norm.append(score_item(item, engine.loglikelihood(item.requests))["acc_norm"])
    our_s = time.perf_counter() - t0
    engine.h.clear()
    engine.close()

    n = len(tasks)
    agree = [a == b for a, b in zip(ours, theirs)]
    dis = [m for m, ok in zip(margins, agree) if not ok]
    acc_t, acc_o, an = mean_stderr([float(x) for x in theirs]), mean_stderr([float(x) for x in ours]), \
        mean_stderr([float(x) for x in acc_norm])
    print(f"{args.task}, first {n} validation items, 0-shot, {args.model}, {args.threads} threads")
    print(f"llama.cpp llama-perplexity --multiple-choice: acc {acc_t.value:.3f} ± {acc_t.stderr:.3f}, "
          f"{n / their_s:.2f} items/s (wall, incl. model load)")
    print(f"bakeoff, llama.cpp's statistic (mean token logprob): acc {acc_o.value:.3f} ± {acc_o.stderr:.3f}")
    print(f"per-item agreement: {sum(agree)}/{n} ({sum(agree) / n:.1%}); disagreements: {len(dis)}, "
          f"largest winning margin among them {max(dis) if dis else 0:.4f} nats/token")
    print(f"bakeoff acc_norm (lm-evaluation-harness statistic, what `bakeoff bench` reports): "
          f"{an.value:.3f} ± {an.stderr:.3f} (our two passes took {our_s:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
