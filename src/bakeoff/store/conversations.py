"""Chat conversations, their messages (each recording the model that wrote it) and saved presets."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from ..errors import NotFoundError
from .db import inserted_id, row_dict, transaction


def _ui_001_conversations(db: sqlite3.Connection) -> None:
    db.execute("""
        CREATE TABLE ui_conversations (
            id INTEGER PRIMARY KEY,
            title TEXT NOT NULL,
            model TEXT NOT NULL,                -- the model the next answer comes from
            system TEXT NOT NULL DEFAULT '',
            params TEXT NOT NULL DEFAULT '{}',  -- JSON subset of GenParams
            created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
            updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
        )""")
    db.execute("""
        CREATE TABLE ui_messages (
            id INTEGER PRIMARY KEY,
            conversation_id INTEGER NOT NULL REFERENCES ui_conversations(id) ON DELETE CASCADE,
            role TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
            content TEXT NOT NULL,
            model TEXT,                         -- who wrote it (NULL for the user)
            stats TEXT,                         -- JSON: ttft_s, output_tps, tokens, finish_reason
            created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
        )""")
    db.execute("CREATE INDEX ui_messages_conv ON ui_messages (conversation_id, id)")
    db.execute("""
        CREATE TABLE ui_presets (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            system TEXT NOT NULL DEFAULT '',
            params TEXT NOT NULL DEFAULT '{}'
        )""")


MIGRATIONS = [("ui_001_conversations", _ui_001_conversations)]

_CONV_FIELDS = ("title", "model", "system", "params")


def _conv(row: sqlite3.Row) -> dict[str, Any]:
    return row_dict(row, ("params",))


def _msg(row: sqlite3.Row) -> dict[str, Any]:
    return row_dict(row, ("stats",))


def create(db: sqlite3.Connection, *, model: str, title: str = "New chat", system: str = "",
           params: dict[str, Any] | None = None) -> dict[str, Any]:
    with transaction(db):
        cur = db.execute("INSERT INTO ui_conversations (title, model, system, params) VALUES (?,?,?,?)",
                         (title, model, system, json.dumps(params or {})))
    return get(db, inserted_id(cur))


def get(db: sqlite3.Connection, conv_id: int) -> dict[str, Any]:
    row = db.execute("SELECT * FROM ui_conversations WHERE id=?", (conv_id,)).fetchone()
    if row is None:
        raise NotFoundError("conversation", str(conv_id))
    return _conv(row)


def list_all(db: sqlite3.Connection) -> list[dict[str, Any]]:
    rows = db.execute("SELECT * FROM ui_conversations ORDER BY updated_at DESC, id DESC").fetchall()
    return [_conv(r) for r in rows]


def update(db: sqlite3.Connection, conv_id: int, **fields: Any) -> dict[str, Any]:
    get(db, conv_id)  # raises NotFoundError
    sets = {k: (json.dumps(v) if k == "params" else v) for k, v in fields.items()
            if k in _CONV_FIELDS and v is not None}
    if sets:
        cols = ", ".join(f"{k}=?" for k in sets)
        with transaction(db):
            db.execute(f"UPDATE ui_conversations SET {cols}, "  # noqa: S608 - columns are whitelisted
                       "updated_at=strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE id=?",
                       (*sets.values(), conv_id))
    return get(db, conv_id)


def delete(db: sqlite3.Connection, conv_id: int) -> None:
    get(db, conv_id)
    with transaction(db):
        db.execute("DELETE FROM ui_conversations WHERE id=?", (conv_id,))


def messages(db: sqlite3.Connection, conv_id: int) -> list[dict[str, Any]]:
    rows = db.execute("SELECT * FROM ui_messages WHERE conversation_id=? ORDER BY id", (conv_id,))
    return [_msg(r) for r in rows.fetchall()]


def add_message(db: sqlite3.Connection, conv_id: int, role: str, content: str,
                model: str | None = None, stats: dict[str, Any] | None = None) -> dict[str, Any]:
    with transaction(db):
        cur = db.execute(
            "INSERT INTO ui_messages (conversation_id, role, content, model, stats) VALUES (?,?,?,?,?)",
            (conv_id, role, content, model, json.dumps(stats) if stats is not None else None))
        db.execute("UPDATE ui_conversations SET updated_at=strftime('%Y-%m-%dT%H:%M:%fZ','now') "
                   "WHERE id=?", (conv_id,))
    row = db.execute("SELECT * FROM ui_messages WHERE id=?", (cur.lastrowid,)).fetchone()
    return _msg(row)


def get_message(db: sqlite3.Connection, conv_id: int, msg_id: int) -> dict[str, Any]:
    row = db.execute("SELECT * FROM ui_messages WHERE id=? AND conversation_id=?",
                     (msg_id, conv_id)).fetchone()
    if row is None:
        raise NotFoundError("message", str(msg_id))
    return _msg(row)


def truncate_from(db: sqlite3.Connection, conv_id: int, msg_id: int) -> None:
    """Delete message msg_id and everything after it (used by regenerate and edit-and-resend)."""
    with transaction(db):
        db.execute("DELETE FROM ui_messages WHERE conversation_id=? AND id>=?", (conv_id, msg_id))


def edit_message(db: sqlite3.Connection, conv_id: int, msg_id: int, content: str) -> None:
    """Replace a user message's text and drop every later message (they answered the old text)."""
    get_message(db, conv_id, msg_id)
    with transaction(db):
        db.execute("UPDATE ui_messages SET content=? WHERE id=?", (content, msg_id))
        db.execute("DELETE FROM ui_messages WHERE conversation_id=? AND id>?", (conv_id, msg_id))


# --- presets ------------------------------------------------------------------------------------

def list_presets(db: sqlite3.Connection) -> list[dict[str, Any]]:
    return [_conv(r) for r in db.execute("SELECT * FROM ui_presets ORDER BY name").fetchall()]


def save_preset(db: sqlite3.Connection, name: str, system: str, params: dict[str, Any]) -> dict[str, Any]:
    """Create or overwrite the preset called name."""
    with transaction(db):
        db.execute("INSERT INTO ui_presets (name, system, params) VALUES (?,?,?) ON CONFLICT(name) "
                   "DO UPDATE SET system=excluded.system, params=excluded.params",
                   (name, system, json.dumps(params)))
    return _conv(db.execute("SELECT * FROM ui_presets WHERE name=?", (name,)).fetchone())


def delete_preset(db: sqlite3.Connection, preset_id: int) -> None:
    with transaction(db):
        cur = db.execute("DELETE FROM ui_presets WHERE id=?", (preset_id,))
    if cur.rowcount == 0:
        raise NotFoundError("preset", str(preset_id))
