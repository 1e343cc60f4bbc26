"""Aggregate a stored run into leaderboard rows; every number carries its n and uncertainty."""

from __future__ import annotations

import math
from typing import Any

from ..errors import InvalidParamsError
from ..settings import get_settings
from .speed import costs


def pass_rate(statuses: list[str]) -> dict[str, float]:
    """Share of cases that passed, with the binomial standard error sqrt(p(1-p)/n)."""
    n = len(statuses)
    if n == 0:
        return {"value": 0.0, "se": 0.0, "n": 0}
    p = sum(s == "pass" for s in statuses) / n
    return {"value": p, "se": math.sqrt(p * (1 - p) / n), "n": n}


def mean_se(values: list[float]) -> dict[str, float]:
    """Mean with the standard error of the mean (sample standard deviation / sqrt(n))."""
    n = len(values)
    if n == 0:
        return {"value": 0.0, "se": 0.0, "n": 0}
    mean = sum(values) / n
    var = sum((v - mean) ** 2 for v in values) / (n - 1) if n > 1 else 0.0
    return {"value": mean, "se": math.sqrt(var / n), "n": n}


def model_summary(run: dict[str, Any], model_row: dict[str, Any]) -> dict[str, Any]:
    model = model_row["model"]
    results = [r for r in run["results"] if r["model"] == model]
    speed = {s["workload"]: s["summary"] for s in run["speed"] if s["model"] == model}
    hourly = run["settings"].get("hourly_cost", get_settings().hourly_cost)
    info = model_row.get("info") or {}
    return {
        "model": model,
        "status": model_row["status"],
        "error": model_row.get("error"),
        "pass_rate": pass_rate([r["status"] for r in results]),
        "mean_score": mean_se([r["score"] for r in results]),
        "n_errors": sum(r["status"] == "error" for r in results),
        "n_cached": sum(bool(r["cached"]) for r in results),
        "ttft_s": speed.get("short", {}).get("ttft_s"),
        "output_tps": speed.get("short", {}).get("output_tps"),
        "prompt_tps": speed.get("long", {}).get("prompt_tps"),
        "concurrent": next(({"concurrency": v["workload"]["concurrency"],
                             **v["aggregate_output_tps"]}
                            for k, v in speed.items() if "@" in k), None),
        "speed": speed,
        "cost": costs(speed, hourly),
        "load_avg_1m": speed.get("short", {}).get("workload", {}).get("load_avg_1m"),
        "peak_rss_bytes": info.get("peak_rss_bytes"),
        "benchmarks": {task: headline_score(b) for task, b in (info.get("benchmarks") or {}).items()},
        "info": info,
    }


# The metric shown for a benchmark in the leaderboard: acc_norm where the task has it (what model
# cards report for HellaSwag, ARC, PIQA), else the task's first metric.
def headline_score(bench: dict[str, Any]) -> dict[str, Any]:
    scores = bench.get("scores") or {}
    metric = "acc_norm" if "acc_norm" in scores else next(iter(scores), None)
    if metric is None:
        return {"metric": None, "value": None, "stderr": None, "n": bench.get("n", 0)}
    s = scores[metric]
    return {"metric": metric, "value": s.get("value"), "stderr": s.get("stderr"), "n": s.get("n", bench.get("n"))}


def leaderboard(run: dict[str, Any]) -> list[dict[str, Any]]:
    """Models best first: by pass rate, then mean score; failed models last."""
    rows = [model_summary(run, m) for m in run["model_rows"]]
    return sorted(rows, key=lambda r: (r["status"] != "done", -r["pass_rate"]["value"],
                                       -r["mean_score"]["value"]))


def diff_runs(a: dict[str, Any], b: dict[str, Any]) -> list[dict[str, Any]]:
    """Cases whose outcome changed between two runs, matched by case id.

    Models are matched by name; when each run has exactly one model (Q8_0 vs Q4_K_M of the same
    model, say), those two are compared whatever their names.
    """
    def by_key(run: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
        return {(r["model"], r["case_id"]): r for r in run["results"]}

    ra, rb = by_key(a), by_key(b)
    ma, mb = [m["model"] for m in a["model_rows"]], [m["model"] for m in b["model_rows"]]
    pairs = [(m, m) for m in ma if m in mb] or ([(ma[0], mb[0])] if len(ma) == len(mb) == 1 else [])
    if not pairs:
        raise InvalidParamsError(f"runs {a['id']} and {b['id']} share no model to compare",
                                 hint="diff compares models of the same name, or two runs of one model each")
    changed = []
    for model_a, model_b in pairs:
        cases = dict.fromkeys(c for (m, c) in ra if m == model_a)
        cases.update(dict.fromkeys(c for (m, c) in rb if m == model_b))
        for case_id in cases:
            x, y = ra.get((model_a, case_id)), rb.get((model_b, case_id))
            sx, sy = (x or {}).get("status", "missing"), (y or {}).get("status", "missing")
            if sx != sy:
                changed.append({"case_id": case_id, "model_a": model_a, "model_b": model_b,
                                "before": sx, "after": sy,
                                "output_before": (x or {}).get("output"),
                                "output_after": (y or {}).get("output"),
                                "reason_after": (y or {}).get("reason")})
    return changed
