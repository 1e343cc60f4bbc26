"""Ask/chat exchange log and the file-hash cache."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path
from typing import Any

from ..models.packaged import sha256_file
from .db import inserted_id, row_dict, transaction


def file_sha256(db: sqlite3.Connection, path: str) -> str:
    """SHA-256 of a model file, cached by (path, size, mtime) so large files are hashed once."""
    st = os.stat(path)
    row = db.execute("SELECT size, mtime_ns, sha256 FROM file_hashes WHERE path=?", (path,)).fetchone()
    if row and row["size"] == st.st_size and row["mtime_ns"] == st.st_mtime_ns:
        return row["sha256"]
    digest = sha256_file(Path(path))
    with transaction(db):
        db.execute("INSERT OR REPLACE INTO file_hashes (path, size, mtime_ns, sha256) VALUES (?,?,?,?)",
                   (path, st.st_size, st.st_mtime_ns, digest))
    return digest


def log_exchange(db: sqlite3.Connection, *, kind: str, model: str, model_sha256: str | None,
                 quantization: str | None, engine_version: str | None, params: dict[str, Any],
                 prompt: Any, response: str, prompt_tokens: int, completion_tokens: int,
                 timings: dict[str, Any]) -> int:
    with transaction(db):
        cur = db.execute(
            "INSERT INTO exchanges (kind, model, model_sha256, quantization, engine_version, params,"
            " prompt, response, prompt_tokens, completion_tokens, timings)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (kind, model, model_sha256, quantization, engine_version, json.dumps(params),
             json.dumps(prompt), response, prompt_tokens, completion_tokens, json.dumps(timings)))
    return inserted_id(cur)


def recent_exchanges(db: sqlite3.Connection, limit: int = 20) -> list[dict[str, Any]]:
    rows = db.execute("SELECT * FROM exchanges ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
    return [row_dict(r, ("params", "prompt", "timings")) for r in rows]
