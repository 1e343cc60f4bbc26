"""The leaderboard's measured columns as text, written once for `bakeoff run`, the web UI and the
HTML report (each shows these strings; none formats a number itself)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..estimates import MISSING, Style, human_bytes, show_stat
from .costs import format_per_pass

PASS_RATE = Style(digits=0, scale=100, unit="%", with_n=True)   # 67% ± 27% (n=3)
MEAN_SCORE = Style(digits=2)                                       # 0.50 ± 0.35
TTFT_MS = Style(digits=0, scale=1000)                              # seconds stored, ms shown
OUTPUT_TPS = Style(digits=1)
PROMPT_TPS = Style(digits=0)
COST = Style(digits=3, prefix="$")                                 # $0.123 (0.100–0.150)
BENCHMARK = Style(digits=1, scale=100, with_n=True)                # accuracy in %: 61.0 ± 6.9 (n=50)
AGGREGATE_TPS = Style(digits=1, with_n=True)                       # 41.2 (39.0–43.5, n=3)
ACCEPTANCE = Style(digits=0, scale=100, unit="%", with_n=True)     # 62% ± 4% (n=12 answers)


def benchmark_columns(rows: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(task, header) for each benchmark any row has, e.g. ("arc_easy", "arc_easy (acc_norm)")."""
    tasks = sorted({t for r in rows for t in r.get("benchmarks") or {}})
    return [(t, f"{t} ({next(r['benchmarks'][t]['metric'] for r in rows if t in (r.get('benchmarks') or {}))})")
            for t in tasks]


def speculated(rows: list[dict[str, Any]]) -> bool:
    """Whether the board shows a draft-acceptance column (some model ran speculative decoding)."""
    return any(r.get("acceptance") for r in rows)


def peak_rss(row: dict[str, Any]) -> str:
    """Peak process RSS, and how much of it came while this model was loaded."""
    peak, base = row.get("peak_rss_bytes"), (row.get("info") or {}).get("baseline_rss_bytes")
    if not peak:
        return MISSING
    return human_bytes(peak) + (f" (+{human_bytes(peak - base)})" if base else "")


def row_text(row: dict[str, Any], tasks: Iterable[str] = ()) -> dict[str, Any]:
    """One leaderboard row (evals.metrics.model_summary) as the strings every surface shows, with a
    benchmark entry for each of `tasks` (the board's benchmark columns; MISSING where not run)."""
    scores = row.get("benchmarks") or {}
    cost = row.get("cost") or {}
    return {
        "pass_rate": show_stat(row["pass_rate"], PASS_RATE),
        "mean_score": show_stat(row["mean_score"], MEAN_SCORE),
        "tool_calls": show_stat(row.get("tool_calls"), PASS_RATE),   # valid tool calls, when tool cases ran
        "ttft_ms": show_stat(row.get("ttft_s"), TTFT_MS),
        "output_tps": show_stat(row.get("output_tps"), OUTPUT_TPS),
        "prompt_tps": show_stat(row.get("prompt_tps"), PROMPT_TPS),
        **{f"cost_{k}": show_stat(cost.get(k), COST) for k in ("input", "output", "blended")},
        "aggregate_tps": show_stat(row.get("concurrent"), AGGREGATE_TPS),
        "acceptance": show_stat(row.get("acceptance"), ACCEPTANCE),   # speculative drafts kept
        "speed_warning": row.get("speed_warning") or "",
        "peak_rss": peak_rss(row),
        "cost_per_pass": format_per_pass(row.get("cost_per_pass")),
        "benchmarks": {task: show_stat(scores.get(task), BENCHMARK) for task in (*tasks, *scores)},
    }
