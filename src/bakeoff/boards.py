"""Read-only views for the UI's leaderboard and catalog pages: bakeoff runs (store/evals.py),
benchmark runs (store/bench.py) and the catalog, with every measured number already written as
text by evals/columns.py (the web UI shows those strings, it formats no number itself)."""

from __future__ import annotations

import sqlite3
from dataclasses import asdict
from typing import Any

from .catalog.load import catalog
from .catalog.queries import row
from .errors import NotFoundError
from .estimates import show_stat
from .evals.columns import BENCHMARK, benchmark_columns, row_text, speculated
from .evals.compare import pair_matrix, ranking_note
from .evals.metrics import board
from .evals.report import charts, prices_note, ranks_of, render_html
from .store.bench import recent_runs
from .store.evals import get_run, list_runs


def bakeoff_runs(db: sqlite3.Connection, limit: int = 50) -> list[dict[str, Any]]:
    """The stored bakeoff runs, newest first, for the run picker: id, suite, date, status, models
    and how many case results passed."""
    return [{"id": r["id"], "created_at": r["created_at"], "finished_at": r["finished_at"],
             "suite": r["suite_name"], "status": r["status"], "models": r["models"],
             "n_results": r["n_results"], "n_pass": r["n_pass"]} for r in list_runs(db, limit)]


# Leaderboard fields the page shows; the rest of metrics.model_summary (per-workload raw speed,
# model info) stays in the report's JSON export.
_BOARD_FIELDS = ("rank", "model", "status", "error", "pass_rate", "mean_score", "n_errors", "ttft_s",
                 "output_tps", "prompt_tps", "cost", "peak_rss_bytes", "cost_per_pass")


def bakeoff_board(db: sqlite3.Connection, run_id: int) -> dict[str, Any]:
    """One run as the UI shows it: its settings, the leaderboard rows (the numbers, and as `text`
    the very strings `bakeoff run` prints), benchmark columns as [task, header] and the HTML
    report's own SVG charts (evals.report.charts, drawn once for both), and the report's pairwise
    matrix (evals.compare.pair_matrix: discordant counts, p-values, intervals, shared ranks)."""
    run = _stored_run(db, run_id)
    rows, pairs = board(run)
    benchmarks = benchmark_columns(rows)
    return {"run": {k: run[k] for k in ("id", "created_at", "finished_at", "suite_name", "status",
                                        "settings", "models")},
            "benchmarks": benchmarks,
            "rows": [{**{k: r.get(k) for k in _BOARD_FIELDS},
                      "baseline_rss_bytes": (r.get("info") or {}).get("baseline_rss_bytes"),
                      "text": row_text(r, (t for t, _ in benchmarks))}
                     for r in rows],
            "drafts": speculated(rows),   # show the draft-acceptance column
            "charts": charts(rows), "prices_note": prices_note(), "ranking": ranking_note(pairs),
            "pairs": [asdict(p) for p in pair_matrix([r["model"] for r in rows], pairs, ranks_of(rows))]}


def bakeoff_report_html(db: sqlite3.Connection, run_id: int) -> str:
    """The full HTML report of a stored run, rendered from the store (not read from disk)."""
    run = _stored_run(db, run_id)
    return render_html(run, *board(run))


def _stored_run(db: sqlite3.Connection, run_id: int) -> dict[str, Any]:
    run = get_run(db, run_id)
    if run is None:
        raise NotFoundError("bakeoff run", str(run_id),
                            valid=[str(r["id"]) for r in bakeoff_runs(db, 10)])
    return run


def benchmark_runs(db: sqlite3.Connection, limit: int = 100) -> list[dict[str, Any]]:
    """One row per (benchmark run, metric), newest first: model, task, metric, the score with its
    standard error and n, and as `text` the score the way `bakeoff run` shows it."""
    return [{"run_id": r["id"], "created_at": r["created_at"], "benchmark": r["task"],
             "model": r["model"], "metric": metric, "value": score.get("value"),
             "stderr": score.get("stderr"), "n": score.get("n", r["n"]),
             "text": show_stat({"n": r["n"], **score}, BENCHMARK)}
            for r in recent_runs(db, limit) for metric, score in (r["scores"] or {}).items()]


def catalog_entries() -> list[dict[str, Any]]:
    """Catalog entries as the catalog's own table rows (catalog.queries.row)."""
    cat = catalog()
    return [row(cat, entry) for entry in cat.entries.values()]
