"""Assertion types: a registry of small scorers, each `fn(output, spec, ctx) -> Outcome`.

Every assertion yields a score in [0, 1] and a pass/fail. Shared rules, applied in `evaluate`:
- `threshold`: when given, the assertion passes when its score >= threshold;
- `not-` prefix: negates pass (and the score becomes 1 - score);
- `weight`: how much the assertion counts towards the case's weighted pass score (0: report only).
An assertion that cannot be graded (a judge reply without an explicit pass and score) yields
`error` set: the case is then an error, never a pass, whatever the negation.

Checks that can fail on the suite itself (bad regex, missing schema or python file) run in
`prepare` at load time, so a malformed suite stops before any model runs.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from .. import jsontext
from . import rubric, tool_checks  # noqa: F401 - register llm-rubric, tool-call and no-tool-call
from .pyscript import PythonLoadError, load_python_function, python_score, shown_value
from .registry import REGISTRY, Check, Context, Outcome, evaluate, known_types, register, split_type
from .similarity import levenshtein_ratio, rouge_l

# The registry's names are this module's API: importing it also registers every check.
__all__ = ["REGISTRY", "Context", "Outcome", "evaluate", "known_types", "parse_json_output", "register",
           "split_type"]


def _bool(passed: bool, reason: str) -> Outcome:
    return Outcome(passed, 1.0 if passed else 0.0, reason)


def _short(text: str, n: int = 60) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[: n - 1] + "…"


# --- text matching ------------------------------------------------------------------------------

@register("equals")
def _equals(output: str, spec: dict, ctx: Context) -> Outcome:
    want = str(spec["value"]).strip()
    ok = output.strip() == want
    return _bool(ok, f"output {'equals' if ok else 'is not'} {_short(want)!r}")


def _contains_check(ignore_case: bool, mode: str) -> Check:
    def check(output: str, spec: dict, ctx: Context) -> Outcome:
        values = spec["value"] if isinstance(spec["value"], list) else [spec["value"]]
        hay = output.lower() if ignore_case else output
        found = [v for v in values if (str(v).lower() if ignore_case else str(v)) in hay]
        missing = [v for v in values if v not in found]
        if mode == "all":
            score = len(found) / len(values)
            return Outcome(not missing, score, f"missing {', '.join(map(repr, missing))}" if missing
                           else f"contains {', '.join(map(repr, found))}")
        ok = bool(found)
        return _bool(ok, f"contains {found[0]!r}" if ok else
                     f"contains none of {', '.join(repr(v) for v in values)}")
    return check


for _ic, _prefix in ((False, "contains"), (True, "icontains")):
    register(_prefix)(_contains_check(_ic, "all"))
    register(f"{_prefix}-any")(_contains_check(_ic, "any"))
    register(f"{_prefix}-all")(_contains_check(_ic, "all"))


@register("starts-with")
def _starts_with(output: str, spec: dict, ctx: Context) -> Outcome:
    want = str(spec["value"])
    ok = output.lstrip().startswith(want)
    return _bool(ok, f"{'starts' if ok else 'does not start'} with {want!r}")


def _prepare_regex(spec: dict, base: Path) -> dict:
    try:
        re.compile(str(spec["value"]))
    except re.error as exc:
        raise ValueError(f"invalid regex {spec['value']!r}: {exc}") from None
    return spec


@register("regex", prepare=_prepare_regex)
def _regex(output: str, spec: dict, ctx: Context) -> Outcome:
    m = re.search(str(spec["value"]), output, flags=re.MULTILINE)
    return _bool(m is not None, f"matches /{spec['value']}/" if m else f"no match for /{spec['value']}/")


@register("word-count")
def _word_count(output: str, spec: dict, ctx: Context) -> Outcome:
    """value: {min: N, max: M} (either may be left out) or a number for an exact count."""
    n = len(output.split())
    value = spec["value"]
    lo, hi = (value, value) if isinstance(value, int) else (value.get("min", 0), value.get("max"))
    ok = n >= lo and (hi is None or n <= hi)
    bounds = f"{lo}..{hi if hi is not None else '∞'}"
    return _bool(ok, f"{n} words ({'within' if ok else 'outside'} {bounds})")


# --- JSON -------------------------------------------------------------------------------------

_FENCE = re.compile(r"^```[a-zA-Z]*\s*\n(.*?)\n?```$", re.DOTALL)


def parse_json_output(output: str) -> Any:
    """The output as JSON; a single surrounding ``` fence is allowed (models add one unasked)."""
    text = output.strip()
    m = _FENCE.match(text)
    if m:
        text = m.group(1).strip()
    return jsontext.loads(text)


def _prepare_schema(spec: dict, base: Path) -> dict:
    import jsonschema

    value = spec.get("value")
    if value is None:
        return spec
    if isinstance(value, str):
        path = (base / value).resolve()
        try:
            value = jsontext.loads(path.read_text())
        except OSError as exc:
            raise ValueError(f"cannot read schema file {value!r}: {exc.strerror}") from None
        except json.JSONDecodeError as exc:
            raise ValueError(f"schema file {value!r} is not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise ValueError("value must be a JSON schema (a mapping) or a path to a .json schema file")
    try:
        jsonschema.validators.validator_for(value).check_schema(value)
    except jsonschema.SchemaError as exc:
        raise ValueError(f"invalid JSON schema: {exc.message}") from None
    return {**spec, "value": value}


def _json_check(output: str, spec: dict, ctx: Context) -> Outcome:
    import jsonschema

    try:
        data = parse_json_output(output)
    except json.JSONDecodeError as exc:
        return _bool(False, f"not valid JSON: {exc.msg} at char {exc.pos}")
    schema = spec.get("value")
    if schema is None:
        return _bool(True, "valid JSON")
    errors = sorted(jsonschema.validators.validator_for(schema)(schema).iter_errors(data),
                    key=lambda e: list(e.path))
    if errors:
        where = "/".join(str(p) for p in errors[0].path) or "(root)"
        return _bool(False, f"JSON fails schema at {where}: {_short(errors[0].message, 80)}")
    return _bool(True, "JSON matches schema")


register("is-json", prepare=_prepare_schema, needs_value=False)(_json_check)
register("matches-json-schema", prepare=_prepare_schema)(_json_check)


# --- python -----------------------------------------------------------------------------------
# A python assertion is trusted code: it runs in this process with the user's rights, like a
# pytest conftest. Loading a suite only checks that the file parses and defines the function; the
# module is imported when the first output is graded.

def _prepare_python(spec: dict, base: Path) -> dict:
    """value: 'file.py' (function `check`) or 'file.py:function'. Parsed, not imported."""
    file, _, fn_name = str(spec["value"]).partition(":")
    return {**spec, "_fn": load_python_function(base / file, fn_name or "check", file)}


def _python_error(reason: str) -> Outcome:
    return Outcome(False, 0.0, reason, error="python error")




@register("python", prepare=_prepare_python)
def _python(output: str, spec: dict, ctx: Context) -> Outcome:
    """The function gets (output, context dict) and returns bool, a score, or {pass, score, reason}."""
    try:
        result = spec["_fn"](output, {"vars": ctx.vars, "prompt": ctx.prompt})
    except PythonLoadError as exc:
        return _python_error(f"python check: {exc}")
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - user code
        return _python_error(f"python check raised {type(exc).__name__}: {exc}")
    try:
        return _python_outcome(result)
    except Exception as exc:  # noqa: BLE001 - the returned object's own methods are user code too
        return _python_error(f"python check's result raised {type(exc).__name__}: {exc}")


_PY_SHAPES = "return a bool, a number in [0, 1] or {'pass': bool, 'score': number, 'reason': str}"


def _python_outcome(result: Any) -> Outcome:
    if isinstance(result, bool):
        return _bool(result, f"python check returned {result}")
    passed = result.get("pass") if isinstance(result, dict) else None
    if passed is not None and type(passed).__name__ not in ("bool", "bool_"):   # numpy's bool too
        # a string such as "false" is truthy: it was counted as a pass
        return _python_error(f"python check returned 'pass': {shown_value(passed)}; {_PY_SHAPES}")
    raw = result.get("score", 1.0 if passed else 0.0) if isinstance(result, dict) else result
    score = python_score(raw)
    if score is None:
        return _python_error(f"python check returned the score {shown_value(raw)}; {_PY_SHAPES}")
    score = max(0.0, min(1.0, score))
    if isinstance(result, dict):
        return Outcome(bool(result.get("pass", score >= 0.5)), score, str(result.get("reason", "python")))
    return Outcome(score >= 0.5, score, f"python score {score:.2f}")


# --- similarity -------------------------------------------------------------------------------

def _similar(metric: str) -> Check:
    def check(output: str, spec: dict, ctx: Context) -> Outcome:
        used = spec.get("metric") or metric
        fn = rouge_l if used == "rouge-l" else levenshtein_ratio
        refs = spec["value"] if isinstance(spec["value"], list) else [spec["value"]]
        score = max(fn(output, str(r)) for r in refs)
        cut: float = spec["threshold"] if spec.get("threshold") is not None else 0.7
        return Outcome(score >= cut, score, f"{used} similarity {score:.2f} (needs {cut:g})")
    return check


def _prepare_similar(spec: dict, base: Path) -> dict:
    if (spec.get("metric") or "rouge-l") not in ("rouge-l", "levenshtein"):
        raise ValueError(f"metric must be rouge-l or levenshtein, not {spec['metric']!r}")
    return spec


register("similar", prepare=_prepare_similar)(_similar("rouge-l"))
register("rouge-l")(_similar("rouge-l"))
register("levenshtein")(_similar("levenshtein"))


# --- latency and cost ceilings ------------------------------------------------------------------

def _prepare_number(spec: dict, base: Path) -> dict:
    if isinstance(spec["value"], bool) or not isinstance(spec["value"], (int, float)) or spec["value"] <= 0:
        raise ValueError(f"value must be a positive number, not {spec['value']!r}")
    return spec


@register("latency", prepare=_prepare_number)
def _latency(output: str, spec: dict, ctx: Context) -> Outcome:
    """value: ceiling in milliseconds for the whole answer."""
    ms = ctx.latency_s * 1000
    return _bool(ms <= spec["value"], f"latency {ms:.0f} ms (ceiling {spec['value']:g} ms)")


@register("cost", prepare=_prepare_number)
def _cost(output: str, spec: dict, ctx: Context) -> Outcome:
    """value: ceiling in USD for this answer (machine time x hourly cost)."""
    return _bool(ctx.cost_usd <= spec["value"],
                 f"cost ${ctx.cost_usd:.2e} (ceiling ${spec['value']:.2e})")

