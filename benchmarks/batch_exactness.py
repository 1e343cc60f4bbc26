"""Are a token's logits the same whatever shares its decode? The property behind reproducible
batched serving (engines/batching.py) and prompt lookup in the scheduler (MAX_DRAFT_BATCH).

Reference: each prompt alone in a one-sequence context, prompt in one decode (logits at every
position), then greedy decoding one token per decode. Then, in a context of 8 sequences (split KV
cache, as `bakeoff serve` gives small models, and one shared pool), the same token streams are fed
back in two kinds of schedule:
- `mixed`: every prompt in one decode, then decodes mixing the 8 sequences with 1..K tokens each
  (random per step), as verification steps with drafts do;
- `scheduled`: what continuous batching does to a prompt: sequences arrive at random steps, each
  step takes a random subset of them in random order (so sequence ids are not consecutive and the
  grouping into sub-batches changes), and each takes 1..K of its next tokens, so a prompt is
  evaluated in chunks that straddle steps and share decodes with other sequences' prompts and
  generated tokens. Prompts are 20..200 tokens and streams run past 256 positions (llama.cpp
  widens the attention window in steps of 256 cells).
Prints, per setting, the largest decode, how many logit vectors differed from the reference in any
bit (n = all compared), how many of them changed the greedy token, and the largest absolute
difference over the first 256 logits. `--attention auto` is llama.cpp's default (flash attention
on the CPU), `off` its plain attention, `exact` what `bakeoff serve` uses (flash attention with the
V cache in F32, engines/llama_lowlevel.py).

    .venv/bin/python benchmarks/batch_exactness.py [--steps 40] [--threads 2] [--k 1,4,8,16,32]
        [--schedule mixed,scheduled] [--attention auto,exact] [--model PATH]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from bakeoff.engines.llama_lowlevel import LlamaHandle  # noqa: E402
from bakeoff.models.packaged import smollm2_path  # noqa: E402

ANIMALS = ["dog", "cat", "fox", "boy", "girl", "robot", "horse", "bird"]
SHORT = [f"Rewrite sentence {i} in the passive voice: The {w} chased the ball across the garden while "
         f"the children laughed." for i, w in enumerate(ANIMALS)]
SENTENCE = ("On day {i} the team met at the harbour at nine o'clock, reviewed {i} reports, fixed the "
            "heating in room {i}0 and ordered new chairs for the meeting hall. ")


def long_prompt(i: int) -> str:
    """Rewrite-like prompts from about 20 to 200 tokens (i = 0..7)."""
    return "Rewrite the following text in the past tense:\n\n" + SENTENCE.format(i=i) * (i % 4 * 2 + (i > 3))


@dataclass
class Ref:
    """One prompt's reference: prompt + greedy continuation, and per stream position the logits'
    digest, argmax and first 256 values (the logits predicting the token after that position)."""

    stream: list[int]
    digest: list[bytes]
    top: list[int]
    head: list[np.ndarray]


def fingerprint(logits: np.ndarray) -> tuple[bytes, int, np.ndarray]:
    return hashlib.sha1(logits.tobytes()).digest(), int(np.argmax(logits)), logits[:256].copy()


def attention(mode: str) -> dict:
    """LlamaHandle arguments for an attention mode: auto (llama.cpp's default), off, exact."""
    return {"exact_attention": True} if mode == "exact" else {"flash_attn": None if mode == "auto" else mode == "on"}


def reference(path: str, prompts: list[list[int]], steps: int, threads: int, fa: str) -> list[Ref]:
    h = LlamaHandle(path, n_ctx=1024, n_threads=threads, **attention(fa))
    out = []
    for p in prompts:
        h.clear()
        h.decode(p, range(len(p)), [0] * len(p), [True] * len(p))
        prints = [fingerprint(h.logits(i)) for i in range(len(p))]
        stream = list(p)
        for _ in range(steps):
            stream.append(prints[-1][1])
            h.decode([stream[-1]], [len(stream) - 1], [0], [True])
            prints.append(fingerprint(h.logits(0)))
        out.append(Ref(stream, *[list(x) for x in zip(*prints)]))
    h.close()
    return out


class Tally:
    def __init__(self) -> None:
        self.n = self.bad = self.flips = self.largest = 0
        self.worst = 0.0

    def check(self, ref: Ref, pos: int, logits: np.ndarray) -> None:
        digest, top, head = fingerprint(logits)
        self.n += 1
        if digest != ref.digest[pos]:
            self.bad += 1
            self.flips += top != ref.top[pos]
            self.worst = max(self.worst, float(np.abs(head - ref.head[pos]).max()))


def feed(h: LlamaHandle, refs: list[Ref], batch: list[tuple[int, int]], tally: Tally) -> None:
    """Decode (sequence, position) pairs of the reference streams, logits everywhere, and check them."""
    tally.largest = max(tally.largest, len(batch))
    h.decode([refs[i].stream[j] for i, j in batch], [j for _, j in batch], [i for i, _ in batch],
             [True] * len(batch))
    for b, (i, j) in enumerate(batch):
        tally.check(refs[i], j, h.logits(b))


def mixed(h: LlamaHandle, refs: list[Ref], n_prompt: list[int], k: int, tally: Tally) -> None:
    feed(h, refs, [(i, j) for i, n in enumerate(n_prompt) for j in range(n)], tally)
    done, rng = list(n_prompt), random.Random(k)
    ends = [len(r.stream) for r in refs]
    while any(d < e for d, e in zip(done, ends)):
        batch = []
        for i in range(len(refs)):
            take = min(rng.randint(1, k), ends[i] - done[i])
            batch += [(i, done[i] + q) for q in range(take)]
            done[i] += take
        feed(h, refs, batch, tally)


def scheduled(h: LlamaHandle, refs: list[Ref], k: int, tally: Tally, n_batch: int) -> None:
    rng = random.Random(1000 + k)
    arrive = [rng.randint(0, 12) for _ in refs]
    done, ends, step = [0] * len(refs), [len(r.stream) for r in refs], 0
    while any(d < e for d, e in zip(done, ends)):
        active = [i for i in range(len(refs)) if arrive[i] <= step and done[i] < ends[i]]
        rng.shuffle(active)
        batch: list[tuple[int, int]] = []
        for i in active[:rng.randint(1, len(active))] if active else []:
            take = min(rng.randint(1, k), ends[i] - done[i], n_batch - len(batch))
            batch += [(i, done[i] + q) for q in range(take)]
            done[i] += take
        if batch:
            feed(h, refs, batch, tally)
        step += 1


def run(path: str, refs: list[Ref], n_prompt: list[int], schedule: str, k: int, unified: bool,
        args: argparse.Namespace, fa: str) -> Tally:
    n_seq, tally = len(refs), Tally()
    h = LlamaHandle(path, n_ctx=n_seq * 1024, n_threads=args.threads, n_seq_max=n_seq, kv_unified=unified,
                    **attention(fa))
    if schedule == "mixed":
        mixed(h, refs, n_prompt, k, tally)
    else:
        scheduled(h, refs, k, tally, h.n_batch)
    h.close()
    return tally


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=40, help="greedy tokens after each prompt")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--k", default="1,4,8,16,32", help="most tokens per sequence in one decode")
    ap.add_argument("--schedule", default="mixed,scheduled")
    ap.add_argument("--attention", default="auto,exact", help="auto (llama.cpp's default), off "
                    "(no flash attention), exact (bakeoff serve's: flash attention, V cache in F32)")
    ap.add_argument("--layouts", default="split,shared")
    ap.add_argument("--model", default=None, help="a GGUF file (default: the packaged SmolLM2-135M)")
    args = ap.parse_args()
    path = args.model or str(smollm2_path())
    tok = LlamaHandle(path, n_ctx=256, n_threads=args.threads)
    texts = {"mixed": SHORT, "scheduled": [long_prompt(i) for i in range(8)]}
    print(f"{Path(path).name}, {args.threads} threads, 8 sequences, {args.steps} greedy steps each, "
          f"load average {os.getloadavg()[0]:.2f}")
    for schedule in args.schedule.split(","):
        prompts = [tok.tokenize(t) for t in texts[schedule]]
        steps = args.steps if schedule == "mixed" else max(args.steps, 270 - min(map(len, prompts)))
        for fa_name in args.attention.split(","):
            refs = reference(path, prompts, steps, args.threads, fa_name)
            for layout in args.layouts.split(","):
                for k in (int(x) for x in args.k.split(",")):
                    t = run(path, refs, [len(p) for p in prompts], schedule, k, layout == "shared", args, fa_name)
                    print(f"{schedule:9s} attention {fa_name:5s} {layout:6s} KV, <= {k:3d} tokens per "
                          f"sequence: largest decode {t.largest:3d}, {t.bad}/{t.n} logit vectors differ, "
                          f"{t.flips} change the greedy token, max |diff| {t.worst:.3g}", flush=True)
    tok.close()


if __name__ == "__main__":
    main()
