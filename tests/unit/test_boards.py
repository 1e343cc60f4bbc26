"""Leaderboard and catalog views: empty while their sources are missing, summaries once they exist."""

from __future__ import annotations

import json
import math
import sqlite3
import sys
from types import SimpleNamespace

import bakeoff.catalog
from bakeoff import boards
from bakeoff.store import connect


def test_empty_when_sources_are_missing(monkeypatch):
    db = connect()
    assert boards.bakeoff_runs(db) == [] and boards.benchmark_runs(db) == []
    for name in boards._CATALOG_FUNCS:   # a catalog package without an entry function yet
        monkeypatch.delattr(bakeoff.catalog, name, raising=False)
    monkeypatch.setitem(sys.modules, "bakeoff.catalog.load", None)   # import raises: not there
    assert boards.catalog_entries() == []


def test_bakeoff_summary_per_run_and_model():
    # Only the columns this view reads from store/evals.py's tables (built on another branch), in
    # a database of their own so the test holds whether or not those migrations are present.
    db = sqlite3.connect(":memory:")
    db.row_factory = sqlite3.Row
    db.execute("CREATE TABLE evals_runs (id INTEGER PRIMARY KEY, created_at TEXT, "
               "suite_name TEXT, status TEXT, settings TEXT)")
    db.execute("CREATE TABLE evals_results (run_id INTEGER, model TEXT, status TEXT, "
               "score REAL, cost_usd REAL, timings TEXT)")
    db.execute("INSERT INTO evals_runs VALUES (1, '2026-11-26', 'smoke', 'done', '{}')")
    for i, status in enumerate(["pass", "pass", "fail", "pass"]):
        db.execute("INSERT INTO evals_results VALUES (1, 'm1', ?, ?, 0.001, ?)",
                   (status, 1.0 if status == "pass" else 0.0, json.dumps({"output_tps": 10.0 + i})))
    db.execute("INSERT INTO evals_results VALUES (1, 'm2', 'fail', 0.0, 0.002, ?)",
               (json.dumps({"output_tps": 5.0}),))
    rows = boards.bakeoff_runs(db)
    assert [r["model"] for r in rows] == ["m1", "m2"]
    m1 = rows[0]
    assert (m1["n"], m1["pass_rate"], m1["mean_score"], m1["median_output_tps"]) == (4, 0.75, 0.75, 12.0)
    assert math.isclose(m1["pass_rate_se"], math.sqrt(0.75 * 0.25 / 4))
    assert math.isclose(m1["cost_usd"], 0.004)


def test_catalog_entries_accept_objects(monkeypatch):
    monkeypatch.setitem(sys.modules, "bakeoff.catalog.load", None)
    monkeypatch.setattr(bakeoff.catalog, "entries",
                        lambda: [SimpleNamespace(id="x", name="X"), {"id": "y", "name": "Y"}], raising=False)
    assert boards.catalog_entries() == [{"id": "x", "name": "X"}, {"id": "y", "name": "Y"}]


def test_benchmark_rows_flatten_metrics(monkeypatch):
    fake = SimpleNamespace(recent_runs=lambda db, limit: [
        {"id": 3, "created_at": "t", "model": "m", "task": "arc_easy", "n": 50,
         "scores": {"acc": {"value": 0.5, "stderr": 0.07, "n": 50}, "acc_norm": {"value": 0.6, "stderr": 0.07}}}])
    monkeypatch.setitem(sys.modules, "bakeoff.store.bench", fake)
    rows = boards.benchmark_runs(connect())
    assert [(r["benchmark"], r["metric"], r["value"], r["n"]) for r in rows] == [
        ("arc_easy", "acc", 0.5, 50), ("arc_easy", "acc_norm", 0.6, 50)]
