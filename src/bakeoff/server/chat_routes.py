"""UI API for chat: conversations, messages (streamed answers), regenerate, edit and resend, export."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import PlainTextResponse, Response
from pydantic import Field

from ..engines.base import Message
from ..errors import InvalidParamsError
from ..store import conversations as store
from ..store.db import connect
from .openai_schemas import Strict
from .ui_common import RowId, UIRoute, build_params, db_for, served_name
from .ui_stream import ndjson_stream

router = APIRouter(prefix="/conversations", route_class=UIRoute)

TITLE_CHARS = 60           # a title made from the first message
MAX_TITLE_CHARS = 200      # one a client sets (a megabyte title went to every conversation list)


class NewConversation(Strict):
    model: str
    title: str = Field("New chat", max_length=MAX_TITLE_CHARS)
    system: str = ""
    params: dict[str, Any] = Field(default_factory=dict)


class ConversationPatch(Strict):
    model: str | None = None
    title: str | None = Field(None, max_length=MAX_TITLE_CHARS)
    system: str | None = None
    params: dict[str, Any] | None = None


class Say(Strict):
    content: str = Field(min_length=1)
    model: str | None = None      # switch the conversation to this model first


class Regenerate(Strict):
    model: str | None = None      # answer with another model this once


@router.get("")
def list_conversations(db: sqlite3.Connection = Depends(db_for)) -> list[dict]:
    return store.list_all(db)


@router.post("")
def create_conversation(body: NewConversation, request: Request,
                        db: sqlite3.Connection = Depends(db_for)) -> dict:
    build_params(body.params)  # reject bad parameters now, not at the first message
    return store.create(db, model=served_name(request, body.model), title=body.title,
                        system=body.system, params=body.params)


@router.get("/{conv_id}")
def get_conversation(conv_id: RowId, db: sqlite3.Connection = Depends(db_for)) -> dict:
    return {**store.get(db, conv_id), "messages": store.messages(db, conv_id)}


@router.patch("/{conv_id}")
def patch_conversation(conv_id: RowId, body: ConversationPatch, request: Request,
                       db: sqlite3.Connection = Depends(db_for)) -> dict:
    if body.params is not None:
        build_params(body.params)
    model = served_name(request, body.model) if body.model else None
    return store.update(db, conv_id, model=model, title=body.title, system=body.system,
                        params=body.params)


@router.delete("/{conv_id}")
def delete_conversation(conv_id: RowId, db: sqlite3.Connection = Depends(db_for)) -> dict:
    store.delete(db, conv_id)
    return {"deleted": conv_id}


def _answer(request: Request, conv: dict[str, Any], model: str) -> Response:
    """Stream the next assistant message for the conversation as it stands in the store."""
    settings = request.app.state.settings
    db = connect(settings)
    try:
        history = store.messages(db, conv["id"])
    finally:
        db.close()
    msgs = ([Message(role="system", content=conv["system"])] if conv["system"].strip() else [])
    msgs += [Message(role=m["role"], content=m["content"]) for m in history]
    params = build_params(conv["params"])

    def finish(text: str, stats: dict[str, Any]) -> dict[str, Any]:
        wdb = connect(settings)   # runs in the worker thread: its own connection
        try:
            saved = store.add_message(wdb, conv["id"], "assistant", text, stats.pop("model"), stats)
        finally:
            wdb.close()
        return {"message": saved}

    return ndjson_stream(request.app.state.pool, model, msgs, params, finish)


@router.post("/{conv_id}/messages")
def say(conv_id: RowId, body: Say, request: Request, db: sqlite3.Connection = Depends(db_for)) -> Response:
    conv = store.get(db, conv_id)
    if body.model and served_name(request, body.model) != conv["model"]:
        conv = store.update(db, conv_id, model=served_name(request, body.model))
    first_line = next((line.strip() for line in body.content.splitlines() if line.strip()), "")
    if first_line and conv["title"] == "New chat" and not store.messages(db, conv_id):
        conv = store.update(db, conv_id, title=first_line[:TITLE_CHARS])
    store.add_message(db, conv_id, "user", body.content)
    return _answer(request, conv, conv["model"])


@router.post("/{conv_id}/regenerate")
def regenerate(conv_id: RowId, body: Regenerate, request: Request,
               db: sqlite3.Connection = Depends(db_for)) -> Response:
    conv = store.get(db, conv_id)
    history = store.messages(db, conv_id)
    if not history:
        raise InvalidParamsError("nothing to regenerate: the conversation is empty",
                                 hint="send a message first")
    if history[-1]["role"] == "assistant":   # replace the last answer; after a stop, answer anew
        store.truncate_from(db, conv_id, history[-1]["id"])
    model = served_name(request, body.model) if body.model else conv["model"]
    return _answer(request, conv, model)


@router.put("/{conv_id}/messages/{msg_id}")
def edit_and_resend(conv_id: RowId, msg_id: RowId, body: Say, request: Request,
                    db: sqlite3.Connection = Depends(db_for)) -> Response:
    conv = store.get(db, conv_id)
    if store.get_message(db, conv_id, msg_id)["role"] != "user":
        raise InvalidParamsError("only your own messages can be edited",
                                 hint="use regenerate to get a new answer")
    if body.model:
        conv = store.update(db, conv_id, model=served_name(request, body.model))
    store.edit_message(db, conv_id, msg_id, body.content)
    return _answer(request, conv, conv["model"])


@router.get("/{conv_id}/export")
def export(conv_id: RowId, format: str = "json", db: sqlite3.Connection = Depends(db_for)) -> Response:
    conv = {**store.get(db, conv_id), "messages": store.messages(db, conv_id)}
    name = f"conversation-{conv_id}"
    if format == "json":
        return Response(json.dumps(conv, indent=2), media_type="application/json",
                        headers={"Content-Disposition": f'attachment; filename="{name}.json"'})
    if format in ("md", "markdown"):
        return PlainTextResponse(to_markdown(conv), media_type="text/markdown",
                                 headers={"Content-Disposition": f'attachment; filename="{name}.md"'})
    raise InvalidParamsError(f"unknown export format {format!r}", param="format",
                             hint="use format=json or format=md")


def to_markdown(conv: dict[str, Any]) -> str:
    lines = [f"# {conv['title']}", "", f"- created: {conv['created_at']}",
             f"- model: {conv['model']}"]
    if conv["params"]:
        lines.append(f"- parameters: `{json.dumps(conv['params'])}`")
    if conv["system"]:
        lines += ["", "## System", "", conv["system"]]
    for m in conv["messages"]:
        who = "User" if m["role"] == "user" else f"Assistant ({m['model']})"
        lines += ["", f"## {who}", "", m["content"]]
        s = m.get("stats") or {}
        if s.get("completion_tokens") is not None:
            ttft = f"{s['ttft_s'] * 1000:.0f} ms" if s.get("ttft_s") is not None else "?"
            tps = f"{s['output_tps']:.1f}" if s.get("output_tps") else "?"
            lines += ["", f"_{s['completion_tokens']} tokens · TTFT {ttft} · {tps} tok/s · "
                          f"finish {s.get('finish_reason')}_"]
    return "\n".join(lines) + "\n"
