"""The tune example, measured: SmolLM2-135M learns to extract orders into JSON.

Runs `bakeoff tune` on the shipped example (240 train, 80 held-out cases) and prints, in one run:
- tune time, end to end (load, train, export, held-out bakeoff)       target <= 600 s on 2 cores
- held-out pass rate, base and tuned, with SE and the McNemar p-value target tuned >= base + 20
                                                                        points, p < 0.01
- training tokens/s through bakeoff against a bare transformers + peft loop (model(..., labels=...),
  AdamW) on the same data, base, LoRA config and threads                target ratio >= 0.9
- llama.cpp decode tokens/s with the adapter against the base alone    target ratio >= 0.85
  (and, for information, the merged model written by --merge against the base)
The last lines put every target beside its measurement (met / MISSED).

    .venv/bin/python benchmarks/tune_example.py [--threads 2]
    .venv/bin/python benchmarks/tune_example.py --train-limit 8 --eval-limit 4 --max-steps 2 \\
        --bare-steps 2 --decode-tokens 16 --repeats 1        # smoke run
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import tempfile
import time
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[1] / "src" / "bakeoff" / "tune" / "examples"


def subset(name: str, folder: Path, limit: int | None) -> Path:
    lines = (EXAMPLES / name).read_text().splitlines(keepends=True)
    out = folder / name
    out.write_text("".join(lines[:limit] if limit else lines))
    return out


class Quiet:
    def begin(self, total: int, done: int) -> None:
        print(f"training: {total} steps")

    def step(self, step: int, loss: float, lr: float) -> None:
        if step % 10 == 0:
            print(f"  step {step} loss {loss:.4f}", flush=True)

    def note(self, text: str) -> None:
        print(text, flush=True)


def run_tune(args, folder: Path):
    from bakeoff.settings import get_settings
    from bakeoff.tune.config import TuneConfig
    from bakeoff.tune.pipeline import TuneRequest, tune

    cfg = TuneConfig(max_steps=args.max_steps, epochs=args.epochs)
    req = TuneRequest("smollm2-135m", "bench", subset("orders-train.jsonl", folder, args.train_limit),
                      subset("orders-eval.jsonl", folder, args.eval_limit), cfg, args.threads, restart=True,
                      merge="same")
    t0 = time.perf_counter()
    outcome = tune(req, get_settings(), Quiet())
    return outcome, time.perf_counter() - t0, req


def bare_tokens_per_s(req, steps: int) -> float:
    """A plain transformers + peft loop: the baseline for our trainer's overhead."""
    import torch

    from bakeoff.settings import get_settings
    from bakeoff.tune.pipeline import prepare
    from bakeoff.tune.train import attach_lora, batches, collate, load_base

    # Its own name: preparing with restart would otherwise remove the tuned model just measured.
    req = dataclasses.replace(req, name="bare-loop", restart=True)
    p = prepare(req, get_settings())
    torch.set_num_threads(req.threads)
    torch.manual_seed(req.cfg.seed)
    model = attach_lora(load_base(p.info), req.cfg)
    model.train()
    opt = torch.optim.AdamW([x for x in model.parameters() if x.requires_grad], lr=req.cfg.lr)
    order = batches(len(p.encoded), req.cfg, 0)
    tokens, t0 = 0, time.perf_counter()
    for i in range(steps):
        ids, mask, labels = collate(p.encoded, order[i % len(order)])
        model(input_ids=ids, attention_mask=mask, labels=labels).loss.backward()
        opt.step()
        opt.zero_grad()
        tokens += int(mask.sum())
    return tokens / (time.perf_counter() - t0)


def decode_tps(adapters: tuple, n_tokens: int, repeats: int, threads: int,
               other: str = "smollm2-135m") -> tuple[float, float]:
    """Median output tokens/s of the base alone and of `other` with `adapters` (the base with the
    tuned adapter, or the merged file alone), runs alternating between them.

    Plain decoding of exactly n_tokens (prompt lookup off, end-of-text ignored): the tuned model
    writes other text than the base, and both would change how much work each run does."""
    from bakeoff.engines import LoadOptions, open_engine
    from bakeoff.engines.base import GenParams, Message, collect

    params = GenParams(temperature=0, max_tokens=n_tokens, stop=[], ignore_eos=True)
    msgs = [Message(role="user", content="Write a long story about a lighthouse keeper.")]
    plain = LoadOptions(n_ctx=1024, threads=threads, speculative=False)
    with open_engine("smollm2-135m", plain) as base, \
            open_engine(other, plain.model_copy(update={"adapters": adapters})) as tuned:
        runs: dict[str, list[float]] = {"base": [], "tuned": []}
        for engine in (base, tuned):
            collect(engine.chat(msgs, params))  # warm-up
        for i in range(repeats):
            for name, engine in ((("base", base), ("tuned", tuned)) if i % 2 == 0 else
                                 (("tuned", tuned), ("base", base))):
                runs[name].append(collect(engine.chat(msgs, params)).timings.output_tps)
    return statistics.median(runs["base"]), statistics.median(runs["tuned"])


def merged_agreement(outcome, limit: int, threads: int) -> tuple[int, int]:
    """Greedy answers to the first `limit` held-out cases: (identical, n) between the tuned model
    (adapter at load time) and its merged file."""
    from bakeoff.engines import LoadOptions, open_engine
    from bakeoff.engines.base import collect
    from bakeoff.evals.suite import load_suite
    from bakeoff.settings import get_settings
    from bakeoff.tune.compare import SUITE_FILE
    from bakeoff.tune.registry import tuned_dir

    suite = load_suite(tuned_dir(get_settings(), outcome.lineage.name) / SUITE_FILE)
    cases = suite.cases[:limit]
    answers = []
    for ref in (outcome.ref, outcome.merged.name):
        with open_engine(ref, LoadOptions(n_ctx=2048, threads=threads)) as engine:  # the ref carries its adapter
            answers.append([collect(engine.chat(c.messages(), c.params)).text for c in cases])
    return sum(a == b for a, b in zip(*answers)), len(cases)


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--max-steps", type=int, default=None)
    ap.add_argument("--train-limit", type=int, default=None)
    ap.add_argument("--eval-limit", type=int, default=None)
    ap.add_argument("--bare-steps", type=int, default=20)
    ap.add_argument("--decode-tokens", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--merge-check", type=int, default=20, help="Held-out cases answered by tuned and merged.")
    args = ap.parse_args()
    # Both scratch folders go when the run ends, however it ends (each run left its data, and its
    # store with a LoRA adapter and a merged model, in TMPDIR).
    with tempfile.TemporaryDirectory(prefix="tune-bench-") as home, \
            tempfile.TemporaryDirectory(prefix="tune-data-") as data:
        os.environ["BAKEOFF_HOME"] = home
        measure(args, Path(data))


def measure(args, folder: Path) -> None:
    print(f"machine load (1-min average) at start: {os.getloadavg()[0]:.1f}")
    outcome, seconds, req = run_tune(args, folder)
    lin, h = outcome.lineage, outcome.lineage.held_out
    ours = lin.train_tokens / lin.train_seconds
    summary = [("tune time, end to end", "<= 600 s", f"{seconds:.0f} s ({lin.train_seconds:.0f} s training, "
                f"{lin.steps} steps, {lin.n_train} examples)", seconds <= 600)]
    if h:
        se = lambda k: 100 * (k / h.n * (1 - k / h.n) / h.n) ** 0.5  # noqa: E731
        gain = 100 * (h.tuned_passed - h.base_passed) / h.n
        summary.append(("held-out gain, greedy", ">= +20 points, McNemar p < 0.01",
                        f"base {100 * h.base_passed / h.n:.0f}% ± {se(h.base_passed):.0f}%, tuned "
                        f"{100 * h.tuned_passed / h.n:.0f}% ± {se(h.tuned_passed):.0f}% (n={h.n}): {gain:+.0f} points, "
                        f"wins {h.wins} losses {h.losses} ties {h.ties}, p = {h.mcnemar_p:.2g}",
                        gain >= 20 and h.mcnemar_p < 0.01))
    bare = bare_tokens_per_s(req, args.bare_steps)
    summary.append(("training tokens/s vs bare transformers+peft", ">= 0.9x",
                    f"{ours:.0f} vs {bare:.0f} (bare: n={args.bare_steps} steps): {ours / bare:.2f}x",
                    ours / bare >= 0.9))
    base_tps, tuned_tps = decode_tps(tuple(outcome.ref.adapters), args.decode_tokens, args.repeats, args.threads)
    summary.append(("decode tokens/s with adapter vs base", ">= 0.85x",
                    f"{tuned_tps:.1f} vs {base_tps:.1f} (median of {args.repeats}, {args.decode_tokens} tokens): "
                    f"{tuned_tps / base_tps:.2f}x", tuned_tps / base_tps >= 0.85))
    if outcome.merged:
        base2_tps, merged_tps = decode_tps((), args.decode_tokens, args.repeats, args.threads, outcome.merged.name)
        summary.append(("decode tokens/s merged vs base (information)", "-",
                        f"{merged_tps:.1f} vs {base2_tps:.1f}: {merged_tps / base2_tps:.2f}x "
                        f"({outcome.merged.tensor_type}, {outcome.merged.size_bytes / 2 ** 20:.0f} MiB)", True))
        same, n = merged_agreement(outcome, args.merge_check, args.threads)
        summary.append(("greedy answers merged == adapter (information)", "-",
                        f"{same}/{n} held-out cases identical", True))
    print(f"machine load (1-min average) at end: {os.getloadavg()[0]:.1f}")
    print(f"\n{'measure':<46} {'target':<34} measured")
    for what, target, measured, ok in summary:
        print(f"{what:<46} {target:<34} {measured}   [{verdict(ok) if target != '-' else 'info'}]")


if __name__ == "__main__":
    main()
