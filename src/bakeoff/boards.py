"""Read-only views for the UI's leaderboard and catalog pages.

The bakeoff runs (store/evals.py), benchmark runs (store/bench.py) and the catalog (bakeoff.catalog)
are built by other modules. Each view is one small function that returns [] while its source does
not exist yet, so the pages show an empty state instead of failing.
"""

from __future__ import annotations

import dataclasses
import importlib
import sqlite3
from typing import Any


def _missing_table(exc: sqlite3.OperationalError) -> bool:
    text = str(exc)
    return "no such table" in text or "no such column" in text


def bakeoff_runs(db: sqlite3.Connection, limit: int = 50) -> list[dict[str, Any]]:
    """The stored bakeoff runs, newest first, for the run picker: id, suite, date, status, models
    and how many case results passed."""
    from .store.evals import list_runs

    try:
        runs = list_runs(db, limit)
    except sqlite3.OperationalError as exc:
        if _missing_table(exc):
            return []
        raise
    return [{"id": r["id"], "created_at": r["created_at"], "finished_at": r["finished_at"],
             "suite": r["suite_name"], "status": r["status"], "models": r["models"],
             "n_results": r["n_results"], "n_pass": r["n_pass"]} for r in runs]


# Leaderboard fields the page shows; the rest of metrics.model_summary (per-workload raw speed,
# model info) stays in the report's JSON export.
_BOARD_FIELDS = ("model", "status", "error", "pass_rate", "mean_score", "n_errors", "ttft_s",
                 "output_tps", "prompt_tps", "cost", "peak_rss_bytes")


def bakeoff_board(db: sqlite3.Connection, run_id: int) -> dict[str, Any]:
    """One run as the UI shows it: its settings, the leaderboard rows (as `bakeoff run` prints
    them) and the HTML report's own SVG charts (evals.report.charts, drawn once for both)."""
    from .evals.metrics import leaderboard
    from .evals.report import charts, prices_note

    run = _stored_run(db, run_id)
    rows = leaderboard(run)
    return {"run": {k: run[k] for k in ("id", "created_at", "finished_at", "suite_name", "status",
                                        "settings", "models")},
            "rows": [{**{k: r.get(k) for k in _BOARD_FIELDS},
                      "baseline_rss_bytes": (r.get("info") or {}).get("baseline_rss_bytes")}
                     for r in rows],
            "charts": charts(rows), "prices_note": prices_note()}


def bakeoff_report_html(db: sqlite3.Connection, run_id: int) -> str:
    """The full HTML report of a stored run, rendered from the store (not read from disk)."""
    from .evals.metrics import leaderboard
    from .evals.report import render_html

    run = _stored_run(db, run_id)
    return render_html(run, leaderboard(run))


def _stored_run(db: sqlite3.Connection, run_id: int) -> dict[str, Any]:
    from .errors import NotFoundError
    from .store.evals import get_run

    try:
        run = get_run(db, run_id)
    except sqlite3.OperationalError as exc:
        if not _missing_table(exc):
            raise
        run = None
    if run is None:
        raise NotFoundError("bakeoff run", str(run_id),
                            valid=[str(r["id"]) for r in bakeoff_runs(db, 10)])
    return run


def benchmark_runs(db: sqlite3.Connection, limit: int = 100) -> list[dict[str, Any]]:
    """One row per (benchmark run, metric), newest first, from store/bench.py's `recent_runs(db)`
    (rows with model, task, n, created_at and scores = {metric: {value, stderr, n}})."""
    try:
        module = importlib.import_module("bakeoff.store.bench")
    except ModuleNotFoundError:
        return []
    recent = getattr(module, "recent_runs", None)
    if recent is None:
        return []
    try:
        runs = recent(db, limit)
    except sqlite3.OperationalError as exc:
        if _missing_table(exc):
            return []
        raise
    return [{"run_id": r.get("id"), "created_at": r.get("created_at"), "benchmark": r.get("task"),
             "model": r.get("model"), "metric": metric, "value": score.get("value"),
             "stderr": score.get("stderr"), "n": score.get("n", r.get("n"))}
            for r in runs for metric, score in (r.get("scores") or {}).items()
            if isinstance(score, dict)]


_CATALOG_FUNCS = ("entries", "load_catalog", "all_entries", "load")


def catalog_entries() -> list[dict[str, Any]]:
    """Catalog entries as flat dicts; [] while the catalog is not there. Prefers the catalog's own
    table rows (catalog.queries.row over catalog.load.catalog()), else an entry function."""
    rows = _catalog_rows()
    if rows is not None:
        return rows
    catalog = importlib.import_module("bakeoff.catalog")
    func = next((getattr(catalog, n) for n in _CATALOG_FUNCS if callable(getattr(catalog, n, None))),
                None)
    if func is None:
        return []
    items = func()
    if isinstance(items, dict):
        items = items.get("models", list(items.values()))
    return [_as_dict(item) for item in items]


def _catalog_rows() -> list[dict[str, Any]] | None:
    try:
        load = importlib.import_module("bakeoff.catalog.load")
        queries = importlib.import_module("bakeoff.catalog.queries")
    except ModuleNotFoundError:
        return None
    if not (callable(getattr(load, "catalog", None)) and callable(getattr(queries, "row", None))):
        return None
    cat = load.catalog()
    return [queries.row(cat, entry) for entry in cat.entries.values()]


def _as_dict(item: Any) -> dict[str, Any]:
    if isinstance(item, dict):
        return item
    if hasattr(item, "model_dump"):
        return item.model_dump(mode="json")
    if dataclasses.is_dataclass(item):
        return dataclasses.asdict(item)
    if hasattr(item, "to_dict"):
        return item.to_dict()
    return dict(vars(item))
