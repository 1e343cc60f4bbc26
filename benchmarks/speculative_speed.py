"""Speculative decoding against plain decoding, side by side, with identical answers.

For every case of a suite (default: the starter suite), one greedy answer from the same model
decoded plainly, with prompt lookup, and (with --draft) with a draft model, rotating which goes
first, --repeats times. Decode speed is counted the way llama.cpp's examples count it: tokens
sampled after the prompt (end-of-generation included) / seconds from the first sample to the last,
summed over a category's cases (see Tally.add). Prints per category: cases, each
side's tok/s, each speculative side's ratio to plain with a 95% bootstrap interval over cases,
drafted/accepted tokens; then the whole suite. Every answer must be token-for-token identical
(text, finish reason, token count): a difference is printed and the script exits 1.

llama.cpp's own examples run on the same formatted prompts, model(s), threads, greedy decoding
and draft settings when their binaries are found (--bin DIR, else $LLAMA_BIN, else build/bin, else
PATH; a missing one is skipped with a message): `llama-lookup` beside prompt lookup and
`llama-speculative` beside the draft model. Their speed is `decoded N tokens in S seconds` as they
print it. Build them from the llama.cpp sources llama-cpp-python vendors (as
benchmarks/llamacpp_scorer_compare.py describes) with
`cmake --build build -j --target llama-lookup llama-speculative`.

A same-vocabulary pair without downloads: --derive-target Q8_0 quantizes --model (e.g. the
embedded SmolLM2-135M Q4_1) to a Q8_0 copy in a temp dir with llama.cpp's quantizer, makes that
copy the target and --model its draft.

Targets (issue 17, on a quiet 2-core machine): extract and rewrite >= 1.5x; whole suite >= 1.15x;
no category below 0.97x; against llama-lookup / llama-speculative >= 1.0x.

    .venv/bin/python benchmarks/speculative_speed.py [--model smollm2-135m] [--repeats 3]
        [--categories extract,rewrite] [--max-cases 2] [--max-tokens N]
        [--draft MODEL | --derive-target Q8_0] [--bin /work/llamatools/build/bin]
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bakeoff.engines import LoadOptions, open_engine
from bakeoff.engines.base import GenParams, Message, Response, collect
from bakeoff.engines.draft import MAX_DRAFT, P_MIN
from bakeoff.engines.quantize import quantize_file
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
        """Counted as llama.cpp's examples count (examples/lookup/lookup.cpp): every token sampled
        after the prompt, the end-of-generation token included, over the time from the first
        sample to the last. (Counting only shown tokens after the first, as Timings.output_tps
        does, made a two-token answer look three times slower than their count of it.)"""
        n = r.usage.completion_tokens + (1 if r.finish_reason == "stop" else 0)
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


def find_tool(name: str, bin_dir: str | None) -> str | None:
    """A llama.cpp example binary: in --bin, $LLAMA_BIN, ./build/bin, or on PATH."""
    for d in (bin_dir, os.environ.get("LLAMA_BIN"), "build/bin"):
        if d and os.path.isfile(os.path.join(d, name)):
            return os.path.join(d, name)
    found = shutil.which(name)
    if not found:
        print(f"{name} not found (--bin DIR, $LLAMA_BIN, build/bin or PATH): its column is skipped")
    return found


def run_llama_tool(argv: list[str], prompt: str, n: int, threads: int, temp: float) -> tuple[int, float]:
    """(tokens decoded, decode seconds) from llama-lookup / llama-speculative on one prompt."""
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
        f.write(prompt)
    try:
        out = subprocess.run([*argv, "-f", f.name, "-n", str(n), "-t", str(threads), "-c", str(N_CTX),
                              "--temp", str(temp)], capture_output=True, text=True, timeout=600)
    finally:
        os.unlink(f.name)
    m = re.search(r"decoded\s+(\d+) tokens in\s+([\d.]+) seconds", out.stderr + out.stdout)
    if out.returncode != 0 or not m:
        sys.exit(f"{os.path.basename(argv[0])} failed ({out.returncode}): {out.stderr[-2000:]}")
    return int(m.group(1)), float(m.group(2))


@dataclass
class Side:
    """One way of decoding: our engine (engine set) or a llama.cpp example (argv set)."""

    name: str
    tally: Tally
    engine: Any = None
    argv: list[str] | None = None
    versus: str = "plain"        # the side its ratio is taken against
    lookup: bool | None = None   # plain and lookup share one engine, switched per request


def report(cases: list[Case], sides: list[Side]) -> None:
    groups: dict[str, list[str]] = defaultdict(list)
    for c in cases:
        groups[category(c)].append(c.id)
    groups["ALL"] = [c.id for c in cases]
    by_name = {s.name: s for s in sides}
    head = f"{'category':10s} {'n':>3s}" + "".join(f" {s.name:>17s}" for s in sides)
    print(head)
    print("(tok/s; in brackets each side's ratio to its baseline: " + ", ".join(
        f"{s.name} / {s.versus}" for s in sides[1:]) + ")")
    for cat, ids in groups.items():
        line = f"{cat:10s} {len(ids):3d}"
        for s in sides:
            tps = s.tally.tps(ids)
            if s.name == "plain":
                line += f" {tps:17.1f}"
                continue
            base = by_name[s.versus].tally.tps(ids)
            line += f"{tps:10.1f} ({tps / base if base else 0:.2f}x)"
        print(line)
    for s in sides[1:]:   # the whole suite's ratios with their intervals
        lo, hi = ratio_interval(s.tally, by_name[s.versus].tally, groups["ALL"])
        print(f"{s.name} / {s.versus}: 95% CI over cases [{lo:.2f}-{hi:.2f}]")
    for s in sides:
        if s.engine is not None and s.tally.drafted:
            t = s.tally
            print(f"{s.name}: drafted {t.drafted} tokens, accepted {t.accepted} ({t.accepted / t.drafted:.0%})")


def open_sides(args: argparse.Namespace, threads: int, tmp: str) -> tuple[Any, list[Side]]:
    """Our engines (plain, lookup, draft) and llama.cpp's examples that are present."""
    ref = Registry().resolve(args.model)
    draft = args.draft
    if args.derive_target:
        target = os.path.join(tmp, f"target-{args.derive_target}.gguf")
        quantize_file(Path(ref.path), args.derive_target, Path(target), threads)
        ref, draft = Registry().resolve(target), ref.path
    opts = dict(n_ctx=N_CTX, threads=threads)
    # Plain decoding and prompt lookup run on one engine, switched per request: the same context,
    # thread pool and memory, so nothing but the strategy differs. (Two engines in one process
    # measured 2-17% apart with the same strategy, by which went after the other.)
    shared = open_engine(ref, LoadOptions(**opts, speculative=True))
    sides = [Side("plain", Tally(), shared, lookup=False), Side("lookup", Tally(), shared, lookup=True)]
    if draft:
        sides.append(Side("draft", Tally(), open_engine(ref, LoadOptions(**opts, draft=draft))))
    lookup = find_tool("llama-lookup", args.bin)
    if lookup:
        sides.append(Side("llama-lookup", Tally(), argv=[
            lookup, "-m", ref.path, "--spec-draft-n-max", str(PromptLookup().max_draft)], versus="lookup"))
    spec = find_tool("llama-speculative", args.bin) if draft else None
    if spec:
        path = Registry().resolve(draft).path
        sides.append(Side("llama-speculative", Tally(), argv=[
            spec, "-m", ref.path, "-md", path, "--spec-draft-n-max", str(MAX_DRAFT),
            "--spec-draft-p-min", str(P_MIN)], versus="draft"))
    return ref, sides


def warm_up(sides: list[Side]) -> None:
    """One unmeasured request per engine: page the weights in, and let prompt lookup probe what a
    verification decode costs here (once per model and thread count, then cached)."""
    msg = [Message(role="user", content="Repeat exactly: one two three four five six seven eight.")]
    for s in sides:
        if s.engine is not None:
            if s.lookup is not None:
                s.engine.speculative = s.lookup
            collect(s.engine.chat(msg, GenParams.build(temperature=0.0, max_tokens=24)))


def run_case(c: Case, rep: int, sides: list[Side], args: argparse.Namespace, threads: int) -> bool:
    """Every side answers the case once; True when our sides' answers are identical."""
    params = c.params.model_copy(update={"temperature": args.temperature, "seed": rep, **(
        {"max_tokens": args.max_tokens} if args.max_tokens else {})})
    ours = [s for s in sides if s.engine is not None]
    k = rep % len(ours)
    got = {}
    for s in ours[k:] + ours[:k]:
        if s.lookup is not None:
            s.engine.speculative = s.lookup
        r = collect(s.engine.chat(c.messages(), params))
        s.tally.add(c.id, r)
        got[s.name] = (r.text, r.finish_reason, r.usage.completion_tokens)
    for s in sides:
        if s.argv is not None:
            prompt = ours[0].engine.format_chat(c.messages())
            n_tok, secs = run_llama_tool(s.argv, prompt, params.max_tokens or 128, threads,
                                         args.temperature)
            s.tally.tokens[c.id] += n_tok
            s.tally.seconds[c.id] += secs
    if args.temperature > 0:   # sampled answers differ draw by draw; their distribution is tested
        return True
    for name, answer in got.items():
        if answer != got["plain"]:
            print(f"DIFFERENT ANSWER {c.id} ({name}): {got['plain']!r} vs {answer!r}")
            return False
    return True


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--suite", default="starter")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--categories", default=None, help="comma-separated id prefixes (default: all)")
    ap.add_argument("--max-cases", type=int, default=None, help="cases per category (smoke runs)")
    ap.add_argument("--max-tokens", type=int, default=None, help="override the cases' max_tokens")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--draft", default=None, help="a draft model for --model (same tokenizer, smaller)")
    ap.add_argument("--derive-target", default=None, metavar="TYPE",
                    help="quantize --model to TYPE as the target and let --model draft for it")
    ap.add_argument("--temperature", type=float, default=0.0,
                    help="sample instead of greedy decoding (seeded; answers are not compared: "
                    "tests/integration/test_spec_sampling_tiny.py tests their distribution)")
    ap.add_argument("--bin", default=None, help="folder with llama.cpp's llama-lookup/llama-speculative")
    args = ap.parse_args()
    os.environ["BAKEOFF_SPECULATIVE_SAMPLED"] = "1"   # prompt lookup drafts sampled answers too
    threads = args.threads or get_settings().threads
    cases = pick_cases(load_suite(args.suite).cases, args.categories, args.max_cases)
    with tempfile.TemporaryDirectory() as tmp:
        ref, sides = open_sides(args, threads, tmp)
        warm_up(sides)
        print(f"{ref.name}: {len(cases)} cases x {args.repeats} repeats, threads={threads}, "
              f"temperature {args.temperature}, sides {', '.join(s.name for s in sides)}, "
              f"load average {os.getloadavg()[0]:.2f}")
        same = sum(run_case(c, rep, sides, args, threads) for rep in range(args.repeats) for c in cases)
        report(cases, sides)
    total = len(cases) * args.repeats
    print(f"answers identical: {same}/{total}" if args.temperature == 0 else
          "answers not compared (sampled)")
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    sys.exit(0 if same == total else 1)


if __name__ == "__main__":
    main()
