"""`llm-rubric`: a judge model grades the output against a rubric.

The judge must answer with an explicit pass and score. Replies are parsed robustly (a JSON object
anywhere in the reply, else `pass: yes` / `score: 0.8` lines), but never guessed: a reply without
both is a "judge error", which never counts as a pass. The judge prompt and reply are kept in the
outcome's details, so the store holds them with the result.
"""

from __future__ import annotations

import json
import re
from typing import Any

from .. import jsontext
from .registry import Context, Outcome, register

JUDGE_PROMPT = """You are grading an answer against a rubric.

Question given to the model:
{prompt}

The model's answer:
{output}

Rubric: {rubric}

Reply with only a JSON object: """ + \
    """{{"pass": true or false, "score": a number from 0 to 1, "reason": "one short sentence"}}"""

_TRUE = {"true", "yes", "pass", "passed", "1"}
_FALSE = {"false", "no", "fail", "failed", "0"}


def _as_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    text = str(value).strip().strip('"\'').lower()
    return True if text in _TRUE else False if text in _FALSE else None


def _as_score(value: Any) -> float | None:
    try:
        score = float(str(value).strip().rstrip("%")) if not isinstance(value, bool) else None
    except ValueError:
        return None
    return score if score is not None and 0.0 <= score <= 1.0 else None


def _json_objects(reply: str) -> list[dict]:
    found = []
    decoder = json.JSONDecoder()
    for m in re.finditer(r"\{", reply):
        try:
            obj, _ = jsontext.raw_decode(decoder, reply, m.start())
        except json.JSONDecodeError:
            continue
        if isinstance(obj, dict):
            found.append({str(k).lower(): v for k, v in obj.items()})
    return found


def parse_verdict(reply: str) -> tuple[bool, float, str] | None:
    """(pass, score, reason) from a judge reply, or None when either is missing or ambiguous."""
    for obj in _json_objects(reply):
        passed, score = _as_bool(obj.get("pass")), _as_score(obj.get("score"))
        if passed is not None and score is not None:
            return passed, score, str(obj.get("reason", "")).strip()
    p = re.search(r"\bpass(?:ed)?\"?\s*[:=]\s*\"?(\w+)", reply, re.IGNORECASE)
    s = re.search(r"\bscore\"?\s*[:=]\s*\"?([0-9]*\.?[0-9]+%?)", reply, re.IGNORECASE)
    if p and s:
        passed, score = _as_bool(p.group(1)), _as_score(s.group(1))
        if passed is not None and score is not None:
            r = re.search(r"\breason\"?\s*[:=]\s*\"?([^\n\"]*)", reply, re.IGNORECASE)
            return passed, score, r.group(1).strip() if r else ""
    return None


@register("llm-rubric")
def judge_output(output: str, spec: dict, ctx: Context) -> Outcome:
    if ctx.judge is None:
        return Outcome(False, 0.0, "no judge model", error="judge error")
    prompt = JUDGE_PROMPT.format(prompt=ctx.prompt, output=output, rubric=spec["value"])
    try:
        reply = ctx.judge(prompt)
    except Exception as exc:  # noqa: BLE001 - a judge failure grades nothing
        return Outcome(False, 0.0, f"judge failed: {exc}", error="judge error",
                       details={"judge_prompt": prompt, "judge_reply": None})
    details = {"judge_prompt": prompt, "judge_reply": reply}
    verdict = parse_verdict(reply)
    if verdict is None:
        return Outcome(False, 0.0, "judge reply has no explicit pass and score", error="judge error",
                       details=details)
    passed, score, reason = verdict
    return Outcome(passed, score, f"judge: {reason or ('pass' if passed else 'fail')} ({score:.2f})",
                   details=details)
