"""UI API for the blind arena: battles, streamed anonymous answers, votes, judge, ratings."""

from __future__ import annotations

import sqlite3
from typing import Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import Field, field_validator

from ..arena import battles as service
from ..engines.base import Message
from ..errors import InvalidParamsError
from ..store import arena as store
from ..store.db import connect
from .openai_schemas import Strict
from .ui_common import RowId, UIRoute, build_params, db_for, model_names, served_name
from .ui_stream import ndjson_stream

router = APIRouter(prefix="/arena", route_class=UIRoute)


class NewBattle(Strict):
    prompt: str = Field(min_length=1)
    params: dict[str, Any] = Field(default_factory=dict)

    @field_validator("prompt")
    @classmethod
    def _not_blank(cls, prompt: str) -> str:
        if not prompt.strip():   # a battle on nothing would still move both models' ratings
            raise ValueError("the prompt is blank (only white space); write a question")
        return prompt


class Vote(Strict):
    winner: Literal["a", "b", "tie", "both_bad"]


class JudgeRequest(Strict):
    judge: str


@router.post("/battles")
def new_battle(body: NewBattle, request: Request, db: sqlite3.Connection = Depends(db_for)) -> dict:
    build_params(body.params)
    model_a, model_b = service.pick_pair(model_names(request))
    return service.blind_view(store.create_battle(db, body.prompt, model_a, model_b, body.params))


@router.get("/battles/{battle_id}")
def get_battle(battle_id: RowId, db: sqlite3.Connection = Depends(db_for)) -> dict:
    battle = store.get_battle(db, battle_id)
    return service.revealed_view(battle) if battle["revealed_at"] else service.blind_view(battle)


@router.post("/battles/{battle_id}/answer/{side}")
def answer(battle_id: RowId, side: Literal["a", "b"], request: Request,
           db: sqlite3.Connection = Depends(db_for)) -> Response:
    battle = store.get_battle(db, battle_id)
    if battle[f"answer_{side}"] is not None or battle["revealed_at"]:
        raise InvalidParamsError(f"answer {side.upper()} of battle {battle_id} is already written",
                                 hint="start a new battle for new answers")
    settings = request.app.state.settings

    def finish(text: str, stats: dict[str, Any]) -> dict[str, Any]:
        stats.pop("model")   # never name the model before the vote
        wdb = connect(settings)
        try:
            store.save_answer(wdb, battle_id, side, text, stats)
        finally:
            wdb.close()
        return {"side": side}

    model = battle[f"model_{side}"]
    msgs = [Message(role="user", content=battle["prompt"])]
    return ndjson_stream(request.app.state.pool, model, msgs, build_params(battle["params"]), finish)


@router.post("/battles/{battle_id}/vote")
def vote(battle_id: RowId, body: Vote, db: sqlite3.Connection = Depends(db_for)) -> dict:
    recorded = store.add_vote(db, battle_id, body.winner, "human")
    return {**service.revealed_view(store.get_battle(db, battle_id)), "vote": recorded}


@router.post("/battles/{battle_id}/reveal")
def reveal(battle_id: RowId, db: sqlite3.Connection = Depends(db_for)) -> dict:
    """Show the identities without voting; any vote cast afterwards is kept but not counted."""
    store.get_battle(db, battle_id)
    store.mark_revealed(db, battle_id)
    return service.revealed_view(store.get_battle(db, battle_id))


@router.post("/battles/{battle_id}/judge")
def judge(battle_id: RowId, body: JudgeRequest, request: Request,
          db: sqlite3.Connection = Depends(db_for)) -> dict:
    battle = store.get_battle(db, battle_id)
    if battle["answer_a"] is None or battle["answer_b"] is None:
        raise InvalidParamsError("both answers must be finished before the judge votes",
                                 hint="wait for both panes to finish streaming")
    name = served_name(request, body.judge)
    engine = request.app.state.pool.open_engine(name)
    winner, detail = service.judge(engine, battle["prompt"], battle["answer_a"], battle["answer_b"])
    recorded = store.add_vote(db, battle_id, winner, f"judge:{name}", detail)
    return {**service.revealed_view(store.get_battle(db, battle_id)), "vote": recorded,
            "judge": detail}


@router.get("/ratings")
def ratings(voter: Literal["human", "judge", "all"] = "all",
            db: sqlite3.Connection = Depends(db_for)) -> dict:
    return service.ratings_from_store(db, None if voter == "all" else voter)
