"""Ask/chat exchange log."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from .db import inserted_id, row_dict, transaction


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
