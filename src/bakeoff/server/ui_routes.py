"""The UI's JSON API under /api (models, parameters, presets, one-off streams for side by side,
stop, leaderboard, each bakeoff run's board and report, catalog) and the static web UI. Chat and
arena routes live in their own modules and are included into `ui_router`."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import Field

from .. import boards
from ..engines.base import Message
from ..errors import NotFoundError
from ..store import conversations as conv_store
from .arena_routes import router as arena_router
from .chat_routes import router as chat_router
from .openai_schemas import Strict
from .ui_common import RowId, UIRoute, build_params, db_for, params_schema
from .ui_stream import ndjson_stream, request_stop

WEB_DIR = Path(__file__).resolve().parents[1] / "web"

ui_router = APIRouter(prefix="/api", route_class=UIRoute)


class OneOff(Strict):
    """One model, one message list, not stored: the side-by-side panes use this."""

    model: str
    messages: list[Message] = Field(min_length=1)
    params: dict[str, Any] = Field(default_factory=dict)


class Preset(Strict):
    name: str = Field(min_length=1, max_length=80)
    system: str = ""
    params: dict[str, Any] = Field(default_factory=dict)


@ui_router.get("/models")
def models(request: Request) -> list[dict]:
    loaded = set(request.app.state.pool.loaded())
    return [{**ref.to_dict(), "local": ref.is_local, "loaded": ref.name in loaded,
             "remote": ref.is_remote}
            for ref in request.app.state.pool.refs()]


@ui_router.get("/params")
def params() -> list[dict]:
    return params_schema()


@ui_router.post("/generate")
def generate(body: OneOff, request: Request) -> Response:
    return ndjson_stream(request.app.state.pool, body.model, body.messages, build_params(body.params),
                         lambda text, stats: {"stats": stats})


@ui_router.post("/streams/{stream_id}/stop")
def stop(stream_id: str) -> dict:
    if not request_stop(stream_id):
        raise NotFoundError("stream", stream_id)
    return {"stopping": stream_id}


@ui_router.get("/presets")
def list_presets(db: sqlite3.Connection = Depends(db_for)) -> list[dict]:
    return conv_store.list_presets(db)


@ui_router.post("/presets")
def save_preset(body: Preset, db: sqlite3.Connection = Depends(db_for)) -> dict:
    build_params(body.params)
    return conv_store.save_preset(db, body.name, body.system, body.params)


@ui_router.delete("/presets/{preset_id}")
def delete_preset(preset_id: RowId, db: sqlite3.Connection = Depends(db_for)) -> dict:
    conv_store.delete_preset(db, preset_id)
    return {"deleted": preset_id}


@ui_router.get("/leaderboard")
def leaderboard(db: sqlite3.Connection = Depends(db_for)) -> dict:
    return {"bakeoffs": boards.bakeoff_runs(db), "benchmarks": boards.benchmark_runs(db)}


@ui_router.get("/bakeoffs/{run_id}")
def bakeoff_board(run_id: RowId, db: sqlite3.Connection = Depends(db_for)) -> dict:
    return boards.bakeoff_board(db, run_id)


# The report is a page of its own (opened in a new tab): it holds no script and needs none, so
# its policy forbids every script and every fetch, whatever ends up in a model's answer.
REPORT_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
              "base-uri 'none'; form-action 'none'")


@ui_router.get("/bakeoffs/{run_id}/report")
def bakeoff_report(run_id: RowId, db: sqlite3.Connection = Depends(db_for)) -> Response:
    return HTMLResponse(boards.bakeoff_report_html(db, run_id),
                        headers={"Content-Security-Policy": REPORT_CSP,
                                 "X-Content-Type-Options": "nosniff"})


@ui_router.get("/catalog")
def catalog() -> list[dict]:
    return boards.catalog_entries()


ui_router.include_router(chat_router)
ui_router.include_router(arena_router)


def mount_ui(app: FastAPI) -> None:
    """Add the UI API and, last so it never shadows a route, the static files at /."""
    app.include_router(ui_router)
    app.mount("/", StaticFiles(directory=WEB_DIR, html=True), name="web")
