"""`bakeoff quants` results, kept so that `bakeoff pull` and `bakeoff recommend` can use them later:
one row per finished sweep, with the reference file's identity (its GGUF `general.*` metadata, to
match it to a catalog entry or a Hub repo after the file is gone) and every quant's verdict."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from ..models.quant_evidence import MeasuredQuant, QuantEvidence
from .db import inserted_id, transaction


def _quants_001_reports(db: sqlite3.Connection) -> None:
    db.execute("""
        CREATE TABLE quant_reports (
            id INTEGER PRIMARY KEY,
            created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
            reference TEXT NOT NULL,            -- the reference model's name
            reference_sha256 TEXT,
            run_id INTEGER NOT NULL,            -- the bakeoff run that holds the suite results
            suite TEXT NOT NULL,
            identity TEXT NOT NULL,             -- JSON: the reference's general.* GGUF metadata
            settings TEXT NOT NULL,             -- JSON: KLD text, context, chunks, bar
            quants TEXT NOT NULL)               -- JSON: [MeasuredQuant], reference first""")


MIGRATIONS = [("quants_001_reports", _quants_001_reports)]


def save_quant_report(db: sqlite3.Connection, evidence: QuantEvidence) -> int:
    with transaction(db):
        cur = db.execute(
            "INSERT INTO quant_reports (reference, reference_sha256, run_id, suite, identity, settings,"
            " quants) VALUES (?,?,?,?,?,?,?)",
            (evidence.reference, evidence.reference_sha256, evidence.run_id, evidence.suite,
             json.dumps(evidence.identity), json.dumps(evidence.settings),
             json.dumps([q.to_dict() for q in evidence.quants])))
    return inserted_id(cur)


def quant_reports(db: sqlite3.Connection) -> list[QuantEvidence]:
    """The latest sweep per reference file (or name, for a file never hashed), newest first."""
    rows = db.execute("SELECT * FROM quant_reports ORDER BY id DESC").fetchall()
    seen: set[str] = set()
    out = []
    for r in rows:
        key = r["reference_sha256"] or r["reference"]
        if key in seen:
            continue
        seen.add(key)
        out.append(_evidence(r))
    return out


def _evidence(r: sqlite3.Row) -> QuantEvidence:
    quants: list[dict[str, Any]] = json.loads(r["quants"])
    return QuantEvidence(r["id"], r["created_at"], r["reference"], r["reference_sha256"], r["run_id"],
                         r["suite"], json.loads(r["identity"]), json.loads(r["settings"]),
                         [MeasuredQuant(**q) for q in quants])


__all__ = ["quant_reports", "save_quant_report"]
