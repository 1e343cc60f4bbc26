"""Aggregate a stored run into leaderboard rows; every number carries its n and uncertainty."""

from __future__ import annotations

import math
from typing import Any

from ..settings import get_settings
from .compare import model_pairs, ranks, run_pairs
from .costs import summarise
from .speed import costs, load_warning


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


def draft_acceptance(results: list[dict[str, Any]]) -> dict[str, float] | None:
    """Share of speculative draft tokens that verification kept, over the answers that drafted;
    None when none did. A ratio of sums (accepted / drafted) whose standard error comes from the
    spread between answers (delta method), since one answer's drafts are not independent."""
    pairs = [(t.get("accepted_tokens", 0), t["draft_tokens"]) for r in results
             if (t := r.get("timings") or {}).get("draft_tokens")]
    if not pairs:
        return None
    n, accepted, drafted = len(pairs), sum(a for a, _ in pairs), sum(d for _, d in pairs)
    ratio = accepted / drafted
    se = float("nan")
    if n > 1:
        spread = sum((a - ratio * d) ** 2 for a, d in pairs) / (n - 1)
        se = math.sqrt(spread / n) / (drafted / n)
    return {"value": ratio, "se": se, "n": n, "drafted": drafted, "accepted": accepted}


def valid_tool_calls(results: list[dict[str, Any]]) -> dict[str, float] | None:
    """Share of answers holding only valid calls (parsed, an offered function, arguments matching
    its schema), over the cases that expect a call (a tool-call assertion); None without such cases."""
    outcomes = []
    for r in results:
        rows = [a for a in r.get("assertions") or [] if a["type"] == "tool-call"]
        if rows:
            outcomes.append("pass" if (rows[0].get("details") or {}).get("valid_call") else "fail")
    return pass_rate(outcomes) if outcomes else None


def model_summary(run: dict[str, Any], model_row: dict[str, Any]) -> dict[str, Any]:
    model = model_row["model"]
    results = [r for r in run["results"] if r["model"] == model]
    speed = {s["workload"]: s["summary"] for s in run["speed"] if s["model"] == model}
    hourly = run["settings"].get("hourly_cost", get_settings().hourly_cost)
    info = model_row.get("info") or {}
    cost = costs(speed, hourly)
    # Endpoints are priced per request by the runner; local models by the machine's time.
    local = info.get("engine") != "openai-compatible"
    return {
        "model": model,
        "status": model_row["status"],
        "error": model_row.get("error"),
        "pass_rate": pass_rate([r["status"] for r in results]),
        "mean_score": mean_se([r["score"] for r in results]),
        "tool_calls": valid_tool_calls(results),
        "n_errors": sum(r["status"] == "error" for r in results),
        "n_cached": sum(bool(r["cached"]) for r in results),
        "ttft_s": speed.get("short", {}).get("ttft_s"),
        "output_tps": speed.get("short", {}).get("output_tps"),
        "prompt_tps": speed.get("long", {}).get("prompt_tps"),
        "concurrent": next(({"concurrency": v["workload"]["concurrency"],
                             **v["aggregate_output_tps"]}
                            for k, v in speed.items() if "@" in k), None),
        "speed": speed,
        "cost": cost,
        **summarise(sorted(results, key=lambda r: r["position"]), cost, local),
        "load_avg_1m": speed.get("short", {}).get("workload", {}).get("load_avg_1m"),
        "speed_warning": next(filter(None, (load_warning(s.get("workload") or {}) for s in speed.values())), None),
        "acceptance": draft_acceptance(results),
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


def board(run: dict[str, Any]) -> tuple[list[dict[str, Any]], list[Any]]:
    """Leaderboard rows best first, and every pair's paired comparison (Holm-adjusted together).

    Rank = 1 + the number of models significantly better on the paired test (ties share a rank,
    as in the arena); within a rank by pass rate, then mean score; failed models last."""
    rows = [model_summary(run, m) for m in run["model_rows"]]
    pairs = run_pairs(run, [r["model"] for r in rows])
    rank = ranks([r["model"] for r in rows], pairs)
    for r in rows:
        r["rank"] = rank[r["model"]]
    rows.sort(key=lambda r: (r["status"] != "done", r["rank"], -r["pass_rate"]["value"],
                             -r["mean_score"]["value"]))
    return rows, pairs


def leaderboard(run: dict[str, Any]) -> list[dict[str, Any]]:
    return board(run)[0]


def diff_runs(a: dict[str, Any], b: dict[str, Any], model_a: str | None = None,
              model_b: str | None = None) -> list[dict[str, Any]]:
    """Cases whose outcome changed between two runs, matched by case id.

    Models are matched by name; when each run has exactly one model (Q8_0 vs Q4_K_M of the same
    model, say), or one model of each is named, those two are compared whatever their names.
    """
    def by_key(run: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
        return {(r["model"], r["case_id"]): r for r in run["results"]}

    ra, rb = by_key(a), by_key(b)
    changed = []
    for ma, mb in model_pairs(a, b, model_a, model_b):
        cases = dict.fromkeys(c for (m, c) in ra if m == ma)
        cases.update(dict.fromkeys(c for (m, c) in rb if m == mb))
        for case_id in cases:
            x, y = ra.get((ma, case_id)), rb.get((mb, case_id))
            sx, sy = (x or {}).get("status", "missing"), (y or {}).get("status", "missing")
            if sx != sy:
                changed.append({"case_id": case_id, "model_a": ma, "model_b": mb,
                                "before": sx, "after": sy,
                                "output_before": (x or {}).get("output"),
                                "output_after": (y or {}).get("output"),
                                "reason_after": (y or {}).get("reason")})
    return changed
