"""Prompt-lookup speculative decoding against plain decoding, side by side, with identical answers.

For every case of a suite (default: the starter suite), one greedy answer from the same model
decoded plainly and with prompt lookup, alternating which goes first, --repeats times. Decode speed
is output tokens after the first / seconds after the first token (Timings.output_tps, summed over
a category's cases). Prints per category: cases, plain and lookup tok/s, the ratio with a 95%
bootstrap interval over cases, drafted/accepted tokens; then the whole suite. Every answer must be
token-for-token identical (text, finish reason, token count): a difference is printed and the
script exits 1.

Optionally the same formatted prompts go through llama.cpp's own `llama-lookup` example (same
model, threads, greedy, draft size); its decode speed is `n_predict / decode seconds` as it prints.

Targets (issue 17, on a quiet 2-core machine): extract and rewrite >= 1.5x; whole suite >= 1.15x;
no category below 0.97x; against llama-lookup >= 1.0x.

    .venv/bin/python benchmarks/speculative_speed.py [--model smollm2-135m] [--repeats 3]
        [--categories extract,rewrite] [--max-cases 2] [--max-tokens N]
        [--llama-lookup /work/llamatools/build/bin/llama-lookup]
"""

from __future__ import annotations

import argparse
import os
import random
import re
import subprocess
import sys
import tempfile
from collections import defaultdict
from dataclasses import dataclass, field

from bakeoff.engines import LoadOptions, open_engine
from bakeoff.engines.base import Response, collect
from bakeoff.engines.speculative import PromptLookup
from bakeoff.evals.cases import Case
from bakeoff.evals.suite import load_suite
from bakeoff.models.registry import Registry
from bakeoff.settings import get_settings

N_CTX = 2048


@dataclass
class Tally:
    """One side's decode tokens and seconds per case (summed over repeats)."""

    tokens: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    drafted: int = 0
    accepted: int = 0

    def add(self, case_id: str, r: Response) -> None:
        n = max(r.usage.completion_tokens - 1, 0)
        self.tokens[case_id] += n
        self.seconds[case_id] += max(r.timings.total_s - r.timings.ttft_s, 0.0)
        self.drafted += r.timings.draft_tokens
        self.accepted += r.timings.accepted_tokens

    def tps(self, ids: list[str]) -> float:
        secs = sum(self.seconds[i] for i in ids)
        return sum(self.tokens[i] for i in ids) / secs if secs > 0 else 0.0


def ratio_interval(fast: Tally, slow: Tally, ids: list[str], n_boot: int = 2000) -> tuple[float, float]:
    """95% bootstrap interval of the tokens/s ratio, resampling cases."""
    rng = random.Random(0)
    ratios = []
    for _ in range(n_boot):
        pick = [rng.choice(ids) for _ in ids]
        s = slow.tps(pick)
        ratios.append(fast.tps(pick) / s if s else 0.0)
    ratios.sort()
    return ratios[int(0.025 * n_boot)], ratios[int(0.975 * n_boot) - 1]


def category(case: Case) -> str:
    return case.id.split("-", 1)[0]


def pick_cases(cases: list[Case], categories: str | None, max_cases: int | None) -> list[Case]:
    want = set(categories.split(",")) if categories else None
    by_cat: dict[str, list[Case]] = defaultdict(list)
    for c in cases:
        if want is None or category(c) in want:
            by_cat[category(c)].append(c)
    return [c for cs in by_cat.values() for c in cs[:max_cases]]


def run_llama_lookup(binary: str, model_path: str, prompt: str, n: int, threads: int,
                     n_draft: int) -> tuple[int, float]:
    """(tokens decoded, decode seconds) from llama.cpp's llama-lookup on one prompt."""
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
        f.write(prompt)
    try:
        out = subprocess.run([binary, "-m", model_path, "-f", f.name, "-n", str(n), "-t", str(threads),
                              "-c", str(N_CTX), "--temp", "0", "--spec-draft-n-max", str(n_draft)],
                             capture_output=True, text=True, timeout=600)
    finally:
        os.unlink(f.name)
    m = re.search(r"decoded\s+(\d+) tokens in\s+([\d.]+) seconds", out.stderr + out.stdout)
    if out.returncode != 0 or not m:
        sys.exit(f"llama-lookup failed ({out.returncode}): {out.stderr[-2000:]}")
    return int(m.group(1)), float(m.group(2))


def report(cases: list[Case], plain: Tally, fast: Tally, lookup: Tally | None) -> None:
    groups: dict[str, list[str]] = defaultdict(list)
    for c in cases:
        groups[category(c)].append(c.id)
    groups["ALL"] = [c.id for c in cases]
    head = f"{'category':10s} {'n':>3s} {'plain':>8s} {'lookup':>8s} {'ratio':>6s} {'95% CI':>13s}"
    print(head + ("  llama-lookup  ours/theirs" if lookup else ""))
    for cat, ids in groups.items():
        p, f = plain.tps(ids), fast.tps(ids)
        lo, hi = ratio_interval(fast, plain, ids)
        line = f"{cat:10s} {len(ids):3d} {p:8.1f} {f:8.1f} {f / p if p else 0:6.2f} [{lo:5.2f}-{hi:5.2f}]"
        if lookup:
            t = lookup.tps(ids)
            line += f"  {t:12.1f}  {f / t if t else 0:11.2f}"
        print(line)
    rate = fast.accepted / fast.drafted if fast.drafted else 0.0
    print(f"drafted {fast.drafted} tokens, accepted {fast.accepted} ({rate:.0%})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--suite", default="starter")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--categories", default=None, help="comma-separated id prefixes (default: all)")
    ap.add_argument("--max-cases", type=int, default=None, help="cases per category (smoke runs)")
    ap.add_argument("--max-tokens", type=int, default=None, help="override the cases' max_tokens")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--llama-lookup", default=None, help="path to llama.cpp's llama-lookup binary")
    args = ap.parse_args()
    threads = args.threads or get_settings().threads
    ref = Registry().resolve(args.model)
    cases = pick_cases(load_suite(args.suite).cases, args.categories, args.max_cases)
    plain_e = open_engine(ref, LoadOptions(n_ctx=N_CTX, threads=threads, speculative=False))
    fast_e = open_engine(ref, LoadOptions(n_ctx=N_CTX, threads=threads, speculative=True))
    n_draft = PromptLookup().max_draft
    plain, fast = Tally(), Tally()
    lookup = Tally() if args.llama_lookup else None
    print(f"{ref.name}: {len(cases)} cases x {args.repeats} repeats, threads={threads}, "
          f"greedy, load average {os.getloadavg()[0]:.2f}")
    mismatches = 0
    for rep in range(args.repeats):
        for c in cases:
            params = c.params.model_copy(update={"temperature": 0.0, **(
                {"max_tokens": args.max_tokens} if args.max_tokens else {})})
            order = [(plain_e, plain), (fast_e, fast)][:: 1 if rep % 2 == 0 else -1]
            got = {}
            for engine, tally in order:
                r = collect(engine.chat(c.messages(), params))
                tally.add(c.id, r)
                got[id(tally)] = (r.text, r.finish_reason, r.usage.completion_tokens)
            if got[id(plain)] != got[id(fast)]:
                mismatches += 1
                print(f"DIFFERENT ANSWER {c.id}: {got[id(plain)]!r} vs {got[id(fast)]!r}")
            if lookup is not None:
                n_tok, secs = run_llama_lookup(args.llama_lookup, ref.path, plain_e.format_chat(
                    c.messages()), params.max_tokens or 128, threads, n_draft)
                lookup.tokens[c.id] += n_tok
                lookup.seconds[c.id] += secs
    report(cases, plain, fast, lookup)
    print(f"answers identical: {len(cases) * args.repeats - mismatches}/{len(cases) * args.repeats}")
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    sys.exit(1 if mismatches else 0)


if __name__ == "__main__":
    main()
