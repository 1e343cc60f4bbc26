"""Bakeoff runs: runs, per-model rows, per-case results (written as each finishes), speed, cache."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from .db import inserted_id, row_dict, transaction


def _m001_tables(db: sqlite3.Connection) -> None:
    db.execute("""
        CREATE TABLE evals_runs (
            id INTEGER PRIMARY KEY,
            created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
            finished_at TEXT,
            suite_name TEXT NOT NULL,
            suite_path TEXT NOT NULL,
            suite_sha256 TEXT NOT NULL,
            signature TEXT NOT NULL,         -- suite + models + options: equal ones resume
            models TEXT NOT NULL,            -- JSON list of model names, in order
            settings TEXT NOT NULL,          -- JSON: threads, hourly cost, workloads, cache
            status TEXT NOT NULL             -- running | done
        )""")
    db.execute("CREATE INDEX evals_runs_signature ON evals_runs(signature, status)")
    db.execute("""
        CREATE TABLE evals_run_models (
            run_id INTEGER NOT NULL REFERENCES evals_runs(id) ON DELETE CASCADE,
            model TEXT NOT NULL,
            position INTEGER NOT NULL,
            status TEXT NOT NULL,            -- pending | running | done | failed
            error TEXT,
            fingerprint TEXT,
            info TEXT,                       -- JSON engine.info()
            PRIMARY KEY (run_id, model)
        )""")
    db.execute("""
        CREATE TABLE evals_results (
            id INTEGER PRIMARY KEY,
            run_id INTEGER NOT NULL REFERENCES evals_runs(id) ON DELETE CASCADE,
            model TEXT NOT NULL,
            case_id TEXT NOT NULL,
            position INTEGER NOT NULL,
            status TEXT NOT NULL,            -- pass | fail | error
            score REAL NOT NULL,
            pass_score REAL NOT NULL,
            reason TEXT NOT NULL,
            output TEXT NOT NULL,
            prompt TEXT NOT NULL,            -- JSON messages
            assertions TEXT NOT NULL,        -- JSON per-assertion outcomes (judge prompt/reply too)
            usage TEXT NOT NULL,
            timings TEXT NOT NULL,
            cost_usd REAL NOT NULL,
            cached INTEGER NOT NULL,
            created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
            UNIQUE (run_id, model, case_id)
        )""")
    db.execute("""
        CREATE TABLE evals_speed (
            run_id INTEGER NOT NULL REFERENCES evals_runs(id) ON DELETE CASCADE,
            model TEXT NOT NULL,
            workload TEXT NOT NULL,
            samples TEXT NOT NULL,           -- JSON list of per-repeat measurements
            summary TEXT NOT NULL,           -- JSON medians and P5-P95
            PRIMARY KEY (run_id, model, workload)
        )""")
    db.execute("""
        CREATE TABLE evals_cache (
            key TEXT PRIMARY KEY,            -- sha256(model fingerprint, messages, params)
            response TEXT NOT NULL,          -- JSON Response.to_dict()
            created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
        )""")


def _m002_figures(db: sqlite3.Connection) -> None:
    db.execute("""
        CREATE TABLE evals_run_figures (
            run_id INTEGER NOT NULL REFERENCES evals_runs(id) ON DELETE CASCADE,
            key TEXT NOT NULL,               -- one figure per key and run (a rewrite replaces it)
            figure TEXT NOT NULL,            -- JSON: title, axis labels, values, caption
            PRIMARY KEY (run_id, key)
        )""")


MIGRATIONS = [("evals_001_tables", _m001_tables), ("evals_002_figures", _m002_figures)]

_JSON_COLS = {"models", "settings", "info", "prompt", "assertions", "usage", "timings", "samples",
              "summary", "figure"}


def _row(r: sqlite3.Row | None) -> dict[str, Any] | None:
    return None if r is None else row_dict(r, _JSON_COLS)


def find_resumable(db: sqlite3.Connection, signature: str) -> int | None:
    r = db.execute("SELECT id FROM evals_runs WHERE signature=? AND status IN ('running', 'incomplete') "
                   "ORDER BY id DESC LIMIT 1", (signature,)).fetchone()
    return int(r["id"]) if r else None


def create_run(db: sqlite3.Connection, *, suite_name: str, suite_path: str, suite_sha256: str,
               signature: str, models: list[str], settings: dict[str, Any]) -> int:
    with transaction(db):
        cur = db.execute(
            "INSERT INTO evals_runs (suite_name, suite_path, suite_sha256, signature, models, settings,"
            " status) VALUES (?,?,?,?,?,?, 'running')",
            (suite_name, suite_path, suite_sha256, signature, json.dumps(models), json.dumps(settings)))
        run_id = inserted_id(cur)
        db.executemany("INSERT INTO evals_run_models (run_id, model, position, status) "
                       "VALUES (?,?,?, 'pending')", [(run_id, m, i) for i, m in enumerate(models)])
    return run_id


def set_model_status(db: sqlite3.Connection, run_id: int, model: str, status: str,
                     error: str | None = None, fingerprint: str | None = None,
                     info: dict[str, Any] | None = None) -> None:
    with transaction(db):
        db.execute("UPDATE evals_run_models SET status=?, error=?, fingerprint=COALESCE(?, fingerprint),"
                   " info=COALESCE(?, info) WHERE run_id=? AND model=?",
                   (status, error, fingerprint, json.dumps(info) if info else None, run_id, model))


def finish_run(db: sqlite3.Connection, run_id: int) -> None:
    """'done' when every model finished; 'incomplete' (resumed by the same command) otherwise."""
    with transaction(db):
        failed = db.execute("SELECT COUNT(*) FROM evals_run_models WHERE run_id=? AND status!='done'",
                            (run_id,)).fetchone()[0]
        db.execute("UPDATE evals_runs SET status=?, finished_at=strftime('%Y-%m-%dT%H:%M:%fZ','now') "
                   "WHERE id=?", ("incomplete" if failed else "done", run_id))


def done_case_ids(db: sqlite3.Connection, run_id: int, model: str) -> set[str]:
    rows = db.execute("SELECT case_id FROM evals_results WHERE run_id=? AND model=?", (run_id, model))
    return {r["case_id"] for r in rows}


def save_result(db: sqlite3.Connection, run_id: int, model: str, row: dict[str, Any]) -> None:
    """One case's result. INSERT OR IGNORE: a resumed run can never write a case twice."""
    cols = ["case_id", "position", "status", "score", "pass_score", "reason", "output", "prompt",
            "assertions", "usage", "timings", "cost_usd", "cached"]
    values = [json.dumps(row[c]) if c in _JSON_COLS else row[c] for c in cols]
    with transaction(db):
        db.execute(f"INSERT OR IGNORE INTO evals_results (run_id, model, {', '.join(cols)}) "
                   f"VALUES (?, ?, {', '.join('?' * len(cols))})", (run_id, model, *values))


def save_speed(db: sqlite3.Connection, run_id: int, model: str, workload: str,
               samples: list[dict[str, Any]], summary: dict[str, Any]) -> None:
    with transaction(db):
        db.execute("INSERT OR REPLACE INTO evals_speed (run_id, model, workload, samples, summary) "
                   "VALUES (?,?,?,?,?)", (run_id, model, workload, json.dumps(samples), json.dumps(summary)))


def speed_done(db: sqlite3.Connection, run_id: int, model: str) -> set[str]:
    rows = db.execute("SELECT workload FROM evals_speed WHERE run_id=? AND model=?", (run_id, model))
    return {r["workload"] for r in rows}


def cache_get(db: sqlite3.Connection, key: str) -> dict[str, Any] | None:
    r = db.execute("SELECT response FROM evals_cache WHERE key=?", (key,)).fetchone()
    return json.loads(r["response"]) if r else None


def cache_put(db: sqlite3.Connection, key: str, response: dict[str, Any]) -> None:
    with transaction(db):
        db.execute("INSERT OR REPLACE INTO evals_cache (key, response) VALUES (?,?)",
                   (key, json.dumps(response)))


def save_figure(db: sqlite3.Connection, run_id: int, key: str, figure: dict[str, Any]) -> None:
    """A figure shown with the run's report (e.g. a tune's training loss), kept so a re-render has it."""
    with transaction(db):
        db.execute("INSERT OR REPLACE INTO evals_run_figures (run_id, key, figure) VALUES (?,?,?)",
                   (run_id, key, json.dumps(figure)))


def get_run(db: sqlite3.Connection, run_id: int) -> dict[str, Any] | None:
    run = _row(db.execute("SELECT * FROM evals_runs WHERE id=?", (run_id,)).fetchone())
    if run is None:
        return None
    run["model_rows"] = [_row(r) for r in db.execute(
        "SELECT * FROM evals_run_models WHERE run_id=? ORDER BY position", (run_id,))]
    run["results"] = [_row(r) for r in db.execute(
        "SELECT * FROM evals_results WHERE run_id=? ORDER BY model, position", (run_id,))]
    run["speed"] = [_row(r) for r in db.execute(
        "SELECT * FROM evals_speed WHERE run_id=? ORDER BY model, workload", (run_id,))]
    run["figures"] = [_row(r)["figure"] for r in db.execute(  # type: ignore[index]
        "SELECT figure FROM evals_run_figures WHERE run_id=? ORDER BY rowid", (run_id,))]
    return run


def list_runs(db: sqlite3.Connection, limit: int = 50) -> list[dict[str, Any]]:
    rows = db.execute("""
        SELECT r.*, (SELECT COUNT(*) FROM evals_results x WHERE x.run_id=r.id) AS n_results,
               (SELECT COUNT(*) FROM evals_results x WHERE x.run_id=r.id AND x.status='pass') AS n_pass
        FROM evals_runs r ORDER BY r.id DESC LIMIT ?""", (limit,))
    return [_row(r) for r in rows]  # type: ignore[misc]


def latest_run_id(db: sqlite3.Connection) -> int | None:
    r = db.execute("SELECT MAX(id) AS id FROM evals_runs").fetchone()
    return r["id"] if r and r["id"] is not None else None


@dataclass(frozen=True)
class CasePassRate:
    """A model's pass rate on one suite, counting each distinct case once (its latest result):
    running the same 50 cases five times is still 50 cases of evidence, not 250."""

    model: str
    suite: str
    n_cases: int
    n_pass: int
    n_runs: int

    @property
    def rate(self) -> float:
        return self.n_pass / self.n_cases


def case_pass_rates(db: sqlite3.Connection) -> list[CasePassRate]:
    rows = db.execute("""
        SELECT x.model, r.suite_name AS suite, COUNT(*) AS n, SUM(x.status = 'pass') AS passed,
               (SELECT COUNT(DISTINCT y.run_id) FROM evals_results y JOIN evals_runs s ON s.id = y.run_id
                WHERE y.model = x.model AND s.suite_name = r.suite_name) AS runs
        FROM evals_results x JOIN evals_runs r ON r.id = x.run_id
        WHERE x.id IN (SELECT MAX(y.id) FROM evals_results y JOIN evals_runs s ON s.id = y.run_id
                       GROUP BY y.model, s.suite_name, y.case_id)
        GROUP BY x.model, r.suite_name ORDER BY x.model, r.suite_name""")
    return [CasePassRate(r["model"], r["suite"], int(r["n"]), int(r["passed"]), int(r["runs"])) for r in rows]


@dataclass(frozen=True)
class SpeedMeasurement:
    """Median tokens/s of one speed workload of one model in one run, and what it ran under."""

    model: str
    run_id: int
    workload: str
    output_tps: float
    prompt_tps: float
    prompt_tokens: float
    completion_tokens: float
    n: int
    load_avg_1m: float | None
    info: dict[str, Any]
    source: str = ""            # where it was measured: "run 4", "ask #12"


def speed_measurements(db: sqlite3.Connection) -> list[SpeedMeasurement]:
    """Every concurrency-1 speed workload the store holds (median of its repeats), then every logged
    answer long enough to time."""
    out = []
    for r in db.execute("""
            SELECT s.run_id, s.model, s.workload, s.summary, m.info FROM evals_speed s
            LEFT JOIN evals_run_models m ON m.run_id = s.run_id AND m.model = s.model
            ORDER BY s.run_id, s.model, s.workload"""):
        summ = json.loads(r["summary"])
        work = summ.get("workload", {})
        if work.get("concurrency", 1) != 1 or "output_tps" not in summ:
            continue
        out.append(SpeedMeasurement(
            model=r["model"], run_id=int(r["run_id"]), workload=r["workload"],
            output_tps=summ["output_tps"]["median"], prompt_tps=summ["prompt_tps"]["median"],
            prompt_tokens=summ["prompt_tokens"]["median"], completion_tokens=summ["completion_tokens"]["median"],
            n=int(summ["output_tps"]["n"]), load_avg_1m=work.get("load_avg_1m"),
            info=json.loads(r["info"]) if r["info"] else {}, source=f"run {r['run_id']}"))
    return out + exchange_speeds(db)


def exchange_speeds(db: sqlite3.Connection, min_tokens: int = 32) -> list[SpeedMeasurement]:
    """Output speed of logged `ask`/`chat` answers long enough to time (n=1 each)."""
    rows = db.execute("SELECT id, kind, model, quantization, prompt_tokens, completion_tokens, timings "
                      "FROM exchanges WHERE completion_tokens >= ? ORDER BY id", (min_tokens,))
    out = []
    for r in rows:
        t = json.loads(r["timings"])
        if t.get("output_tps"):
            out.append(SpeedMeasurement(r["model"], 0, r["kind"], t["output_tps"], t.get("prompt_tps", 0.0),
                                        r["prompt_tokens"], r["completion_tokens"], 1, None,
                                        {"quantization": r["quantization"]}, f"{r['kind']} #{r['id']}"))
    return out
