"""SQLite store under BAKEOFF_HOME, in WAL mode, with append-only named migrations.

Each module in bakeoff.store that defines MIGRATIONS (a list of (name, function)) contributes
migrations; they are applied once each, recorded by name in the `_migrations` table, in the
order: this module's list, then the others by module name. Never edit or reorder a released
migration: add a new one.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..errors import HomeNotWritableError
from ..settings import Settings, get_settings

Migration = tuple[str, Callable[[sqlite3.Connection], None]]


def _m001_logs(db: sqlite3.Connection) -> None:
    db.execute("""
        CREATE TABLE exchanges (
            id INTEGER PRIMARY KEY,
            created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
            kind TEXT NOT NULL,                 -- ask | chat
            model TEXT NOT NULL,
            model_sha256 TEXT,
            quantization TEXT,
            engine_version TEXT,
            params TEXT NOT NULL,               -- JSON GenParams
            prompt TEXT NOT NULL,               -- JSON messages or raw prompt
            response TEXT NOT NULL,
            prompt_tokens INTEGER,
            completion_tokens INTEGER,
            timings TEXT NOT NULL               -- JSON Timings
        )""")


def _m002_file_hashes(db: sqlite3.Connection) -> None:
    db.execute("""
        CREATE TABLE file_hashes (
            path TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
            sha256 TEXT NOT NULL)""")


MIGRATIONS: list[Migration] = [("m001_logs", _m001_logs), ("m002_file_hashes", _m002_file_hashes)]


def all_migrations() -> list[Migration]:
    found: list[Migration] = list(MIGRATIONS)
    package = importlib.import_module("bakeoff.store")
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        if info.name == "db":
            continue
        module = importlib.import_module(f"bakeoff.store.{info.name}")
        found.extend(getattr(module, "MIGRATIONS", []))
    return found


def migrate(db: sqlite3.Connection) -> list[str]:
    db.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, "
               "applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')))")
    done = {row[0] for row in db.execute("SELECT name FROM _migrations")}
    applied = []
    for name, fn in all_migrations():
        if name in done:
            continue
        with transaction(db):  # each migration in its own transaction
            fn(db)
            db.execute("INSERT INTO _migrations (name) VALUES (?)", (name,))
        applied.append(name)
    return applied


def row_dict(row: sqlite3.Row, json_cols: Iterable[str] = ()) -> dict[str, Any]:
    """A row as a dict, with its JSON text columns decoded (NULL or empty stays None)."""
    d = dict(row)
    for k in json_cols:
        if k in d:
            d[k] = json.loads(d[k]) if d[k] not in (None, "") else None
    return d


def inserted_id(cur: sqlite3.Cursor) -> int:
    """The id of the row an INSERT just made (sqlite3 types lastrowid as optional)."""
    if cur.lastrowid is None:
        raise RuntimeError("the statement inserted no row")
    return cur.lastrowid


@contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on error. Connections are in autocommit mode."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


_lock = threading.Lock()
_migrated: set[str] = set()


def connect(settings: Settings | None = None, path: Path | None = None) -> sqlite3.Connection:
    """Open the store (creating and migrating it on first use). One connection per thread."""
    settings = settings or get_settings()
    if path is None:
        settings.ensure_home()
        path = settings.db_path
    try:
        db = sqlite3.connect(path, timeout=30, check_same_thread=False, isolation_level=None)
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA foreign_keys=ON")
        db.execute("PRAGMA busy_timeout=30000")
    except sqlite3.OperationalError as exc:
        raise HomeNotWritableError(str(path), str(exc)) from None
    key = str(path)
    with _lock:
        if key not in _migrated:
            migrate(db)
            _migrated.add(key)
    return db
