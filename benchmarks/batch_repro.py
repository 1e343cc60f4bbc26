"""Does a request's greedy answer depend on what else the continuous-batching scheduler decodes
beside it? Deterministically, without HTTP or threads: the real SmolLM2-135M engine loaded as
`bakeoff serve` loads it (8 slots, KV cache split per slot), its Scheduler driven step by step.

Each request is first served alone (submitted, then stepped until it finishes, one after another),
then all of them again on a fixed arrival schedule (request i joins at step `i * --gap`, so prompts
are evaluated in chunks that share decodes with other requests' prompts and generated tokens).
Prints, per request, its prompt length and whether the batched answer equals the one served alone,
and the first token where they part.

    .venv/bin/python benchmarks/batch_repro.py [--requests 8] [--gap 3] [--max-tokens 96]
        [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bakeoff.engines import LoadOptions, open_engine  # noqa: E402
from bakeoff.engines.base import Chunk, GenParams, Message  # noqa: E402
from bakeoff.engines.scheduler import Scheduler  # noqa: E402
from bakeoff.models.packaged import smollm2_path  # noqa: E402
from bakeoff.models.ref import ModelRef  # noqa: E402
from serve_load import rewrite  # noqa: E402


def prompt_text(i: int) -> str:
    """Rewrite requests of varied length: the paragraph repeated 1..3 times."""
    body = rewrite(i)
    return body + ("\n\n" + body.split("\n\n", 1)[1]) * (i % 3)


def drain(req) -> str:
    parts = []
    while not req.out.empty():
        item = req.out.get()
        if isinstance(item, BaseException):
            raise item
        if isinstance(item, Chunk):
            parts.append(item.text)
    return "".join(parts)


def serve(sched, prompts: list[list[int]], params: GenParams, arrive: list[int]) -> list[str]:
    """Submit prompt i at step arrive[i]; step until all finish; the answers."""
    reqs: list = [None] * len(prompts)
    texts = [""] * len(prompts)
    step = 0
    while step <= max(arrive) or sched.busy() or sched.pending:
        for i, t in enumerate(arrive):
            if t == step:
                reqs[i] = sched.new_request(prompts[i], params, params.max_tokens)
                sched.submit(reqs[i])
        sched.tick(sched.take_admissible())
        for i, r in enumerate(reqs):
            if r is not None:
                texts[i] += drain(r)
        step += 1
    return texts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=8)
    ap.add_argument("--gap", type=int, default=3, help="steps between arrivals in the batched run")
    ap.add_argument("--max-tokens", type=int, default=96)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    ref = ModelRef(name="smol", engine="llamacpp", source="bench", path=str(smollm2_path()))
    eng = open_engine(ref, LoadOptions(concurrency=8, threads=args.threads, n_ctx=2048))
    sched = Scheduler(eng.inner.h, "smol")   # stepped here; the engine's own thread stays idle
    params = GenParams(max_tokens=args.max_tokens, temperature=0)
    prompts = [eng.chat_tokens([Message(role="user", content=prompt_text(i))]) for i in range(args.requests)]
    alone = []
    for p in prompts:
        alone += serve(sched, [p], params, [0])
    batched = serve(sched, prompts, params, [i * args.gap for i in range(len(prompts))])
    print(f"SmolLM2-135M, {args.threads} threads, {info(eng)}, load average {os.getloadavg()[0]:.2f}")
    for i, (a, b) in enumerate(zip(alone, batched)):
        at = next((k for k, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
        print(f"request {i}: {len(prompts[i]):3d} prompt tokens: "
              f"{'same' if a == b else f'DIFFERENT from character {at}: {a[at:at + 30]!r} vs {b[at:at + 30]!r}'}")
    print(f"{sum(a != b for a, b in zip(alone, batched))}/{len(prompts)} answers differ from the request served alone")
    eng.close()


def info(eng) -> str:
    h = eng.inner.h
    return f"{h.n_seq_max} slots, {'shared' if h.kv_unified else 'split'} KV cache"


if __name__ == "__main__":
    main()
