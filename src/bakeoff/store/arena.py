"""Arena battles (prompt, both answers, who sat left) and votes (human or judge, counted or not)."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from ..errors import NotFoundError
from .db import inserted_id, row_dict, transaction

WINNERS = ("a", "b", "tie", "both_bad")


def _arena_001_battles(db: sqlite3.Connection) -> None:
    db.execute("""
        CREATE TABLE arena_battles (
            id INTEGER PRIMARY KEY,
            prompt TEXT NOT NULL,
            model_a TEXT NOT NULL,              -- shown on the left as "Model A"
            model_b TEXT NOT NULL,              -- shown on the right as "Model B"
            answer_a TEXT,
            answer_b TEXT,
            stats_a TEXT,                       -- JSON per-answer stats
            stats_b TEXT,
            params TEXT NOT NULL DEFAULT '{}',
            revealed_at TEXT,                   -- set when identities were first shown
            created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
        )""")
    db.execute("""
        CREATE TABLE arena_votes (
            id INTEGER PRIMARY KEY,
            battle_id INTEGER NOT NULL REFERENCES arena_battles(id) ON DELETE CASCADE,
            winner TEXT NOT NULL CHECK (winner IN ('a', 'b', 'tie', 'both_bad')),
            voter TEXT NOT NULL,                -- 'human' or 'judge:<model>'
            counted INTEGER NOT NULL,           -- 0 when cast after the identities were shown
            detail TEXT,                        -- JSON: the judge's raw verdicts
            created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
        )""")


MIGRATIONS = [("arena_001_battles", _arena_001_battles)]


def _battle(row: sqlite3.Row) -> dict[str, Any]:
    return row_dict(row, ("stats_a", "stats_b", "params"))


def create_battle(db: sqlite3.Connection, prompt: str, model_a: str, model_b: str,
                  params: dict[str, Any]) -> dict[str, Any]:
    with transaction(db):
        cur = db.execute("INSERT INTO arena_battles (prompt, model_a, model_b, params) VALUES (?,?,?,?)",
                         (prompt, model_a, model_b, json.dumps(params)))
    return get_battle(db, inserted_id(cur))


def get_battle(db: sqlite3.Connection, battle_id: int) -> dict[str, Any]:
    row = db.execute("SELECT * FROM arena_battles WHERE id=?", (battle_id,)).fetchone()
    if row is None:
        raise NotFoundError("battle", str(battle_id))
    return _battle(row)


def save_answer(db: sqlite3.Connection, battle_id: int, side: str, text: str,
                stats: dict[str, Any]) -> None:
    col = {"a": ("answer_a", "stats_a"), "b": ("answer_b", "stats_b")}[side]
    with transaction(db):
        db.execute(f"UPDATE arena_battles SET {col[0]}=?, {col[1]}=? WHERE id=?",  # noqa: S608
                   (text, json.dumps(stats), battle_id))


def mark_revealed(db: sqlite3.Connection, battle_id: int) -> None:
    with transaction(db):
        db.execute("UPDATE arena_battles SET revealed_at=strftime('%Y-%m-%dT%H:%M:%fZ','now') "
                   "WHERE id=? AND revealed_at IS NULL", (battle_id,))


def add_vote(db: sqlite3.Connection, battle_id: int, winner: str, voter: str,
             detail: dict[str, Any] | None = None) -> dict[str, Any]:
    """Record a vote; it counts only if no identity was shown before it and it is the battle's
    first counted vote from this voter. Reveals the identities in the same transaction."""
    with transaction(db):
        row = db.execute("SELECT revealed_at FROM arena_battles WHERE id=?", (battle_id,)).fetchone()
        if row is None:
            raise NotFoundError("battle", str(battle_id))
        earlier = db.execute("SELECT 1 FROM arena_votes WHERE battle_id=? AND voter=? AND counted=1",
                             (battle_id, voter)).fetchone()
        counted = row["revealed_at"] is None and earlier is None
        cur = db.execute("INSERT INTO arena_votes (battle_id, winner, voter, counted, detail) "
                         "VALUES (?,?,?,?,?)", (battle_id, winner, voter, int(counted),
                                                json.dumps(detail) if detail else None))
        db.execute("UPDATE arena_battles SET revealed_at=strftime('%Y-%m-%dT%H:%M:%fZ','now') "
                   "WHERE id=? AND revealed_at IS NULL", (battle_id,))
    return {"id": inserted_id(cur), "battle_id": battle_id, "winner": winner, "voter": voter,
            "counted": counted}


def counted_outcomes(db: sqlite3.Connection, voter_kind: str | None = None) -> list[tuple[str, str, str]]:
    """(model_a, model_b, winner) for every counted vote, oldest first (Elo needs the order).
    voter_kind: 'human', 'judge' or None for both."""
    sql = ("SELECT b.model_a, b.model_b, v.winner FROM arena_votes v JOIN arena_battles b "
           "ON b.id = v.battle_id WHERE v.counted=1")
    args: tuple = ()
    if voter_kind == "human":
        sql += " AND v.voter='human'"
    elif voter_kind == "judge":
        sql += " AND v.voter LIKE 'judge:%'"
    rows = db.execute(sql + " ORDER BY v.id", args).fetchall()
    return [(r[0], r[1], r[2]) for r in rows]


def vote_counts(db: sqlite3.Connection) -> dict[str, int]:
    row = db.execute("SELECT COUNT(*) AS n, SUM(counted) AS c FROM arena_votes").fetchone()
    return {"votes": int(row["n"] or 0), "counted": int(row["c"] or 0)}
