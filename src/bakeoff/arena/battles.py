"""Blind pairwise battles: pairing with a random left/right order, anonymous views, and the
automatic judge (a model votes on both orders; when the two verdicts disagree the vote is a tie,
which cancels the judge's position bias)."""

from __future__ import annotations

import random
import re
from typing import Any

from ..engines.base import Engine, GenParams, Message, collect
from ..errors import InvalidParamsError
from ..estimates import Style, show_interval
from ..store import arena as arena_store

LABELS = {"a": "Model A", "b": "Model B"}
RATING = Style(digits=0)   # ratings and their intervals on the Elo scale, whole points


def pick_pair(models: list[str], rng: random.Random | None = None) -> tuple[str, str]:
    """Two different models in random order; the first sits left as Model A."""
    unique = sorted(set(models))
    if len(unique) < 2:
        raise InvalidParamsError("the arena needs at least two models",
                                 hint="register another model (a GGUF file or an endpoint) and reload")
    a, b = (rng or random.SystemRandom()).sample(unique, 2)
    return a, b


def blind_view(battle: dict[str, Any]) -> dict[str, Any]:
    """What the browser may see before the vote: no model names, no per-model stats."""
    return {"id": battle["id"], "prompt": battle["prompt"], "labels": LABELS,
            "answers": {"a": battle["answer_a"], "b": battle["answer_b"]},
            "revealed": False}


def revealed_view(battle: dict[str, Any]) -> dict[str, Any]:
    return {**blind_view(battle), "revealed": True,
            "models": {"a": battle["model_a"], "b": battle["model_b"]},
            "stats": {"a": battle["stats_a"], "b": battle["stats_b"]}}


JUDGE_TEMPLATE = """You are judging two answers to the same question. Decide which answer is \
more helpful, correct and clear.

Question:
{prompt}

[Answer 1]
{first}
[End of answer 1]

[Answer 2]
{second}
[End of answer 2]

Reply with exactly one of: "1" if answer 1 is better, "2" if answer 2 is better, "tie" if they \
are equally good or equally bad."""

_VERDICT = re.compile(r"\b(tie|1|2)\b", re.IGNORECASE)


def parse_verdict(text: str) -> str:
    """'1', '2' or 'tie' from the judge's reply; anything unreadable counts as a tie."""
    match = _VERDICT.search(text)
    return match.group(1).lower() if match else "tie"


def judge(engine: Engine, prompt: str, answer_a: str, answer_b: str,
          params: GenParams | None = None) -> tuple[str, dict[str, Any]]:
    """The judge's winner ('a', 'b' or 'tie') and the raw verdicts of both orders."""
    params = params or GenParams(max_tokens=8, temperature=0.0)
    replies = []
    for first, second in ((answer_a, answer_b), (answer_b, answer_a)):
        text = JUDGE_TEMPLATE.format(prompt=prompt, first=first, second=second)
        replies.append(collect(engine.chat([Message(role="user", content=text)], params)).text)
    v_ab, v_ba = parse_verdict(replies[0]), parse_verdict(replies[1])
    # Map both verdicts onto sides: in the second order, "1" means B.
    side_ab = {"1": "a", "2": "b", "tie": "tie"}[v_ab]
    side_ba = {"1": "b", "2": "a", "tie": "tie"}[v_ba]
    winner = side_ab if side_ab == side_ba else "tie"
    return winner, {"a_first": {"reply": replies[0], "verdict": side_ab},
                    "b_first": {"reply": replies[1], "verdict": side_ba}, "judge": engine.ref.name}


def ratings_from_store(db: Any, voter: str | None = None, n_boot: int = 200) -> dict[str, Any]:
    """The ratings table for counted votes (voter: 'human', 'judge' or None for all)."""
    from .ratings import compute  # numpy: loaded when ratings are computed, not for `bakeoff --help`

    table = compute(arena_store.counted_outcomes(db, voter), n_boot=n_boot).to_dict()
    for r in table["ratings"]:   # as `bakeoff arena ratings` and the UI show them
        r["text"] = {"rating": RATING.number(r["rating"]), "ci": show_interval(r["ci_low"], r["ci_high"], RATING),
                     "elo": RATING.number(r["elo"])}
    return {**table, **arena_store.vote_counts(db), "voter": voter or "all"}


def auto_battle(db: Any, open_model: Any, prompt: str, models: list[str], judge_engine: Engine,
                params: GenParams, rng: random.Random | None = None) -> dict[str, Any]:
    """One battle without a person: pick a pair, answer, let the judge vote (both orders), store
    everything like a browser battle. open_model(name) -> Engine."""
    model_a, model_b = pick_pair(models, rng)
    battle = arena_store.create_battle(db, prompt, model_a, model_b, params.model_dump(mode="json"))
    for side, name in (("a", model_a), ("b", model_b)):
        resp = collect(open_model(name).chat([Message(role="user", content=prompt)], params))
        arena_store.save_answer(db, battle["id"], side, resp.text,
                                {"ttft_s": resp.timings.ttft_s, "output_tps": resp.timings.output_tps,
                                 "completion_tokens": resp.usage.completion_tokens,
                                 "finish_reason": resp.finish_reason})
    battle = arena_store.get_battle(db, battle["id"])
    winner, detail = judge(judge_engine, prompt, battle["answer_a"], battle["answer_b"])
    vote = arena_store.add_vote(db, battle["id"], winner, f"judge:{judge_engine.ref.name}", detail)
    return {**revealed_view(arena_store.get_battle(db, battle["id"])), "vote": vote}
