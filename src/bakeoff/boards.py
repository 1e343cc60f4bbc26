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


def benchmark_runs(db: sqlite3.Connection) -> list[dict[str, Any]]:
    """Rows from store/bench.py's `leaderboard(db)` once that module exists (expected keys:
    run_id, created_at, benchmark, model, metric, value, stderr, n)."""
    try:
        module = importlib.import_module("bakeoff.store.bench")
    except ModuleNotFoundError:
        return []
    board = getattr(module, "leaderboard", None)
    if board is None:
        return []
    try:
        return [dict(r) for r in board(db)]
    except sqlite3.OperationalError as exc:
        if _missing_table(exc):
            return []
        raise


_CATALOG_FUNCS = ("entries", "load_catalog", "all_entries", "load")


def catalog_entries() -> list[dict[str, Any]]:
    """Catalog entries as plain dicts, from the first of bakeoff.catalog's entry functions that
    exists; [] while the catalog is not there."""
    catalog = importlib.import_module("bakeoff.catalog")
    func = next((getattr(catalog, n) for n in _CATALOG_FUNCS if callable(getattr(catalog, n, None))),
                None)
    if func is None:
        return []
    items = func()
    if isinstance(items, dict):
        items = items.get("models", list(items.values()))
    return [_as_dict(item) for item in items]


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
