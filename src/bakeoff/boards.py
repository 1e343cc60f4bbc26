"""Read-only views for the UI's leaderboard and catalog pages.

The bakeoff runs (store/evals.py), benchmark runs (store/bench.py) and the catalog (bakeoff.catalog)
are built by other modules. Each view is one small function that returns [] while its source does
not exist yet, so the pages show an empty state instead of failing.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import math
import sqlite3
from typing import Any


def _missing_table(exc: sqlite3.OperationalError) -> bool:
    text = str(exc)
    return "no such table" in text or "no such column" in text


def bakeoff_runs(db: sqlite3.Connection, limit: int = 50) -> list[dict[str, Any]]:
    """One row per (run, model): pass rate with its standard error, mean score, cost and the
    median output speed of the cases, newest runs first."""
    try:
        runs = db.execute("SELECT id, created_at, suite_name, status, settings FROM evals_runs "
                          "ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
        rows = []
        for run in runs:
            results = db.execute("SELECT model, status, score, cost_usd, timings FROM evals_results "
                                 "WHERE run_id=?", (run["id"],)).fetchall()
            rows.extend(_summarise_run(dict(run), results))
        return rows
    except sqlite3.OperationalError as exc:
        if _missing_table(exc):
            return []
        raise


def _summarise_run(run: dict[str, Any], results: list[sqlite3.Row]) -> list[dict[str, Any]]:
    by_model: dict[str, list[sqlite3.Row]] = {}
    for r in results:
        by_model.setdefault(r["model"], []).append(r)
    out = []
    for model, rs in by_model.items():
        n = len(rs)
        rate = sum(r["status"] == "pass" for r in rs) / n
        speeds = sorted(json.loads(r["timings"]).get("output_tps", 0.0) for r in rs)
        out.append({"run_id": run["id"], "created_at": run["created_at"], "suite": run["suite_name"],
                    "status": run["status"], "model": model, "n": n, "pass_rate": rate,
                    "pass_rate_se": math.sqrt(rate * (1 - rate) / n),
                    "mean_score": sum(r["score"] for r in rs) / n,
                    "cost_usd": sum(r["cost_usd"] for r in rs),
                    "median_output_tps": speeds[n // 2]})
    return sorted(out, key=lambda d: -d["pass_rate"])


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
