"""Benchmark results: one row per (model file, task, item, settings), written as each item finishes,
so an interrupted `bakeoff bench` resumes where it stopped; plus one summary row per run."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from .db import inserted_id, row_dict, transaction


def _bench_001_results(db: sqlite3.Connection) -> None:
    db.execute("""
        CREATE TABLE bench_items (
            model_sha256 TEXT NOT NULL,         -- model file hash (or remote endpoint identity)
            task TEXT NOT NULL,
            settings_key TEXT NOT NULL,         -- task definition digest + shots + generation settings
            item INTEGER NOT NULL,              -- index in the task's split
            model TEXT NOT NULL,
            result TEXT NOT NULL,               -- JSON per-item record (log-likelihoods, scores)
            created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
            PRIMARY KEY (model_sha256, task, settings_key, item))""")
    db.execute("""
        CREATE TABLE bench_runs (
            id INTEGER PRIMARY KEY,
            created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
            model TEXT NOT NULL,
            model_sha256 TEXT NOT NULL,
            task TEXT NOT NULL,
            settings TEXT NOT NULL,             -- JSON: shots, limit, engine info
            n INTEGER NOT NULL,
            scores TEXT NOT NULL,               -- JSON {metric: {value, stderr, n}}
            seconds REAL NOT NULL)""")


MIGRATIONS = [("bench_001_results", _bench_001_results)]


def cached_items(db: sqlite3.Connection, model_sha256: str, task: str, settings_key: str,
                 limit: int) -> dict[int, dict[str, Any]]:
    rows = db.execute("SELECT item, result FROM bench_items WHERE model_sha256=? AND task=? AND "
                      "settings_key=? AND item < ?", (model_sha256, task, settings_key, limit))
    return {int(r["item"]): json.loads(r["result"]) for r in rows}


def save_item(db: sqlite3.Connection, *, model_sha256: str, task: str, settings_key: str, item: int,
              model: str, result: dict[str, Any]) -> None:
    with transaction(db):
        db.execute("INSERT OR REPLACE INTO bench_items (model_sha256, task, settings_key, item, model,"
                   " result) VALUES (?,?,?,?,?,?)",
                   (model_sha256, task, settings_key, item, model, json.dumps(result)))


def save_run(db: sqlite3.Connection, *, model: str, model_sha256: str, task: str,
             settings: dict[str, Any], n: int, scores: dict[str, Any], seconds: float) -> int:
    with transaction(db):
        cur = db.execute("INSERT INTO bench_runs (model, model_sha256, task, settings, n, scores, seconds)"
                         " VALUES (?,?,?,?,?,?,?)", (model, model_sha256, task, json.dumps(settings), n,
                                                     json.dumps(scores), seconds))
    return inserted_id(cur)


def recent_runs(db: sqlite3.Connection, limit: int = 20) -> list[dict[str, Any]]:
    rows = db.execute("SELECT * FROM bench_runs ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
    return [row_dict(r, ("settings", "scores")) for r in rows]


@dataclass(frozen=True)
class BenchScore:
    """One metric of a model's latest run of a benchmark task here."""

    model: str
    task: str
    metric: str
    value: float
    stderr: float | None
    n: int


def latest_scores(db: sqlite3.Connection) -> list[BenchScore]:
    """The latest run per (model, task): an older run of the same items is not extra evidence."""
    latest: dict[tuple[str, str], tuple[int, str]] = {}
    for r in db.execute("SELECT model, task, n, scores FROM bench_runs ORDER BY created_at, id"):
        latest[(r["model"], r["task"])] = (int(r["n"]), r["scores"])
    out = []
    for (model, task), (n, scores) in latest.items():
        for metric, s in (json.loads(scores) or {}).items():
            if isinstance(s, dict) and isinstance(s.get("value"), (int, float)):
                out.append(BenchScore(model, task, metric, float(s["value"]), s.get("stderr"),
                                      int(s.get("n", n))))
    return out
