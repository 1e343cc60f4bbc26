"""Speed, memory and cost, measured apart from quality on fixed workloads.

Workloads (concurrency 1, greedy, raw completion so the token counts are the model's own):
- `short`: about 100 prompt tokens, up to 300 output tokens (a chat-sized request);
- `long`: about 1000 prompt tokens, up to 16 output tokens (prefill-bound: RAG-like requests).
Each runs `repeats` times; a distinct first line per repeat defeats the engine's prompt cache so
prompt processing is measured every time. Reported: median and P5–P95 of TTFT, output tokens/s
(after the first token) and prompt tokens/s. Peak memory is the process RSS sampled every 20 ms
from model load to the end of the workloads.

Cost (DESIGN: cost per 1M tokens = hourly cost / tokens per hour): input from `long`'s prompt
tokens/s, output from `short`'s output tokens/s, blended = (3 x input + output) / 4.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from typing import Any

import psutil

from ..engines.base import Engine, GenParams, collect
from ..errors import BakeoffError

_TEXT = ("The history of bread begins with wild grains ground between stones and baked on hot "
         "ashes. Over thousands of years bakers learned to keep a sour starter, to knead dough "
         "until it was smooth, and to build ovens that held heat for hours. Each region found its "
         "own flour, shape and crust, from flat loaves cooked on clay to tall rye breads and "
         "light wheat rolls sold at dawn in busy markets. ")


@dataclass(frozen=True)
class Workload:
    name: str
    prompt_tokens: int
    max_tokens: int
    instruction: str


WORKLOADS = (
    Workload("short", 100, 300, "Continue this history of bread in great detail:\n\n"),
    Workload("long", 1000, 16, "Summarise the following text in one sentence:\n\n"),
)
DEFAULT_REPEATS = 3


def build_prompt(engine: Engine, work: Workload, nonce: int) -> str:
    """A prompt of about work.prompt_tokens tokens in this model's tokenizer."""
    head = f"Sample {nonce}. {work.instruction}"
    body = (_TEXT * (work.prompt_tokens // 40 + 2)).split()
    text = head + " ".join(body)
    try:
        n_tok = len(engine.tokenize(text))
    except BakeoffError:  # a remote endpoint may not tokenize: ~4 characters per token in English
        n_tok = len(text) // 4
    keep = max(1, int(len(body) * work.prompt_tokens / max(n_tok, 1)))
    return head + " ".join(body[:keep])


def percentiles(values: list[float]) -> dict[str, float]:
    import numpy as np  # not for `bakeoff --help`: only measuring needs it

    arr = np.asarray(values, dtype=float)
    return {"median": float(np.median(arr)), "p5": float(np.percentile(arr, 5)),
            "p95": float(np.percentile(arr, 95)), "n": int(arr.size)}


def measure(engine: Engine, work: Workload, repeats: int) -> tuple[list[dict], dict[str, Any]]:
    params = GenParams.build(temperature=0.0, max_tokens=work.max_tokens)
    samples = []
    for i in range(repeats):
        resp = collect(engine.complete(build_prompt(engine, work, i + 1), params))
        t = resp.timings
        samples.append({"ttft_s": t.ttft_s, "output_tps": t.output_tps, "prompt_tps": t.prompt_tps,
                        "prompt_tokens": resp.usage.prompt_tokens,
                        "completion_tokens": resp.usage.completion_tokens, "total_s": t.total_s,
                        "cached_prompt_tokens": t.cached_prompt_tokens,
                        "draft_tokens": t.draft_tokens, "accepted_tokens": t.accepted_tokens})
    summary = {k: percentiles([s[k] for s in samples])
               for k in ("ttft_s", "output_tps", "prompt_tps", "prompt_tokens", "completion_tokens")}
    summary["workload"] = {"prompt_tokens": work.prompt_tokens, "max_tokens": work.max_tokens,
                           "repeats": repeats, "concurrency": 1, **machine_load()}
    return samples, summary


def machine_load() -> dict[str, float]:
    """Load average when measured: other processes on the cores slow every number down."""
    try:
        return {"load_avg_1m": os.getloadavg()[0], "cpus": float(os.cpu_count() or 1)}
    except OSError:
        return {}


def load_warning(workload: dict[str, Any]) -> str | None:
    """A warning when a speed workload shared the CPUs with other work: its 1-minute load average
    (which counts the measurement's own threads) above the number of CPUs, as when calibrating."""
    load, cpus = workload.get("load_avg_1m"), workload.get("cpus")
    if load is None or not cpus or load <= cpus:
        return None
    return (f"speed measured on a loaded machine (load {load:.1f} on {cpus:g} CPUs): its speed and "
            f"cost columns read low; measure again when the machine is quiet")


def measure_concurrent(engine: Engine, work: Workload, n: int, repeats: int) -> tuple[list[dict], dict]:
    """n requests at once (concurrency N): aggregate output tokens/s = all tokens / wall time."""
    from concurrent.futures import ThreadPoolExecutor

    params = GenParams.build(temperature=0.0, max_tokens=work.max_tokens)
    samples = []
    with ThreadPoolExecutor(n) as pool:
        for r in range(repeats):
            prompts = [build_prompt(engine, work, 1000 * (r + 1) + i) for i in range(n)]
            t0 = time.perf_counter()
            resps = list(pool.map(lambda p: collect(engine.complete(p, params)), prompts))
            wall = time.perf_counter() - t0
            out_tokens = sum(x.usage.completion_tokens for x in resps)
            samples.append({"aggregate_output_tps": out_tokens / wall, "wall_s": wall,
                            "ttft_s": percentiles([x.timings.ttft_s for x in resps])["median"],
                            "completion_tokens": out_tokens})
    summary = {k: percentiles([s[k] for s in samples]) for k in ("aggregate_output_tps", "ttft_s")}
    summary["workload"] = {"prompt_tokens": work.prompt_tokens, "max_tokens": work.max_tokens,
                           "repeats": repeats, "concurrency": n, **machine_load()}
    return samples, summary


class RssSampler:
    """Peak resident memory of this process while the block runs (sampled every 20 ms)."""

    def __init__(self, interval: float = 0.02):
        self.proc = psutil.Process()
        self.interval = interval
        self.baseline = self.peak = self.proc.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, self.proc.memory_info().rss)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.proc.memory_info().rss)


def _cost_per_m(hourly_cost: float, tps: float) -> float | None:
    return hourly_cost / (tps * 3600) * 1e6 if tps > 0 else None


def costs(speed: dict[str, dict[str, Any]], hourly_cost: float) -> dict[str, Any]:
    """USD per 1M tokens (median, and the range from the P5/P95 throughputs)."""
    out: dict[str, Any] = {"hourly_cost": hourly_cost}
    pairs = {"input": ("long", "prompt_tps"), "output": ("short", "output_tps")}
    for label, (work, metric) in pairs.items():
        stats = speed.get(work, {}).get(metric)
        if not stats:
            out[label] = None
            continue
        # Higher throughput means lower cost: P95 tps gives the low end of the cost range.
        out[label] = {"median": _cost_per_m(hourly_cost, stats["median"]),
                      "low": _cost_per_m(hourly_cost, stats["p95"]),
                      "high": _cost_per_m(hourly_cost, stats["p5"]), "n": stats["n"]}
    if out.get("input") and out.get("output") and all(
            out[k][q] is not None for k in ("input", "output") for q in ("median", "low", "high")):
        out["blended"] = {**{q: (3 * out["input"][q] + out["output"][q]) / 4 for q in ("median", "low", "high")},
                          "n": min(out["input"]["n"], out["output"]["n"])}
    else:
        out["blended"] = None
    return out
