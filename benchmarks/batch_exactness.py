"""Are a token's logits the same whatever shares its decode? The bound behind prompt lookup in the
batching scheduler (engines/scheduler.py MAX_DRAFT_BATCH).

Reference: each prompt alone in a one-sequence context, prompt in one decode, then greedy decoding
one token per decode, keeping the logits of every step. Then, in a context of 8 sequences (split KV
cache, as `bakeoff serve` gives SmolLM2, and one shared pool), every prompt is evaluated in one
mixed decode and the reference continuations are fed back in decodes that mix the 8 sequences with
1..K tokens each (random per step, logits at every token), as verification steps with drafts do.
Prints, per K, the largest decode, how many logit vectors differed from the reference in any bit
(n = all compared) and the largest absolute difference.

    .venv/bin/python benchmarks/batch_exactness.py [--steps 40] [--threads 2] [--k 1,4,8,16,32]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from bakeoff.engines.llama_lowlevel import LlamaHandle  # noqa: E402
from bakeoff.models.packaged import smollm2_path  # noqa: E402

ANIMALS = ["dog", "cat", "fox", "boy", "girl", "robot", "horse", "bird"]
TEXTS = [f"Rewrite sentence {i} in the passive voice: The {w} chased the ball across the garden while "
         f"the children laughed." for i, w in enumerate(ANIMALS)]


def reference(path: str, prompts: list[list[int]], steps: int, threads: int) -> list[tuple[list[int], list]]:
    """Per prompt: its greedy continuation, and the logits before each of its tokens and after the last."""
    h = LlamaHandle(path, n_ctx=1024, n_threads=threads)
    out = []
    for p in prompts:
        h.clear()
        h.decode(p, range(len(p)), [0] * len(p), [i == len(p) - 1 for i in range(len(p))])
        logits, tokens = [h.logits(len(p) - 1)], []
        for g in range(steps):
            tokens.append(int(np.argmax(logits[-1])))
            h.decode([tokens[-1]], [len(p) + g], [0], [True])
            logits.append(h.logits(0))
        out.append((tokens, logits))
    h.close()
    return out


def mixed(path: str, prompts: list[list[int]], refs: list, k: int, unified: bool, threads: int,
          steps: int) -> tuple[int, int, int, float]:
    """(largest decode, differing logit vectors, compared, largest |difference|)."""
    n_seq = len(prompts)
    h = LlamaHandle(path, n_ctx=n_seq * 1024, n_threads=threads, n_seq_max=n_seq, kv_unified=unified)
    diffs: list[float] = []
    items = [(i, j, t) for i, p in enumerate(prompts) for j, t in enumerate(p)]
    h.decode([t for *_, t in items], [j for _, j, _ in items], [i for i, _, _ in items],
             [j == len(prompts[i]) - 1 for i, j, _ in items])
    for b, (i, j, _) in enumerate(items):
        if j == len(prompts[i]) - 1:
            diffs.append(float(np.abs(h.logits(b) - refs[i][1][0]).max()))
    done, rng, largest = [0] * n_seq, random.Random(k), 0
    while min(done) < steps:
        batch = [(i, done[i] + q) for i in range(n_seq) if done[i] < steps
                 for q in range(min(rng.randint(1, k), steps - done[i]))]
        largest = max(largest, len(batch))
        h.decode([refs[i][0][g] for i, g in batch], [len(prompts[i]) + g for i, g in batch],
                 [i for i, _ in batch], [True] * len(batch))
        for b, (i, g) in enumerate(batch):
            diffs.append(float(np.abs(h.logits(b) - refs[i][1][g + 1]).max()))
            done[i] = max(done[i], g + 1)
    h.close()
    return largest, sum(d > 0 for d in diffs), len(diffs), max(diffs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--k", default="1,4,8,16,32", help="most tokens per sequence in one decode")
    args = ap.parse_args()
    path = str(smollm2_path())
    tok = LlamaHandle(path, n_ctx=256, n_threads=args.threads)
    prompts = [tok.tokenize(t) for t in TEXTS]
    tok.close()
    refs = reference(path, prompts, args.steps, args.threads)
    print(f"SmolLM2-135M Q4_1, {args.threads} threads, {len(prompts)} sequences x {args.steps} steps, "
          f"load average {os.getloadavg()[0]:.2f}")
    for unified in (False, True):
        for k in (int(x) for x in args.k.split(",")):
            largest, bad, n, worst = mixed(path, prompts, refs, k, unified, args.threads, args.steps)
            print(f"{'shared' if unified else 'split '} KV, <= {k:2d} tokens per sequence: largest decode "
                  f"{largest:3d} tokens, {bad}/{n} logit vectors differ, max |diff| {worst:.3g}", flush=True)


if __name__ == "__main__":
    main()
