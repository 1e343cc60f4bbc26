"""promptfoo's assertion types with promptfoo's own semantics, for cases read from its configs.

Each check follows promptfoo's handler for that type (src/assertions/*.ts in promptfoo/promptfoo):
exact string comparisons on the untrimmed output, `not-` inverting the pass (and the score with
it), `threshold` meaning what it means for that type (a score floor for python and llm-rubric, a
maximum edit distance for levenshtein, a ceiling in ms or USD for latency and cost), and `weight: 0`
forcing a pass. Where Bakeoff's built-in type of the same name differs (Bakeoff's `equals` trims,
its `is-json` accepts a ``` fence, its `levenshtein` is a ratio), these rules win for promptfoo
configs so both tools give the same verdict on the same output.

Every check is `fn(output, spec, ctx, inverse) -> Outcome`; `evaluate` applies the shared rules.
A spec that promptfoo would reject at run time is rejected by `prepare` when the config loads.
"""

from __future__ import annotations

import csv
import json
import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rapidfuzz.distance import Levenshtein

from ... import jsontext
from ..cases import parse_yaml
from ..pyscript import PythonLoadError, load_python_function, make_inline_function, python_score, shown_value
from ..registry import Context, Outcome, split_type
from ..rubric import judge_output

Check = Callable[[str, dict, Context, bool], Outcome]
CHECKS: dict[str, Check] = {}
# Types that need a value; the others take an optional one.
NEEDS_VALUE = {"equals", "contains", "icontains", "contains-any", "icontains-any", "contains-all",
               "icontains-all", "starts-with", "regex", "word-count", "levenshtein", "python",
               "llm-rubric", "finish-reason"}


class PromptfooCheckError(Exception):
    """What promptfoo would raise while grading: the row is an error, not a pass or a fail."""


def check(name: str) -> Callable[[Check], Check]:
    def deco(fn: Check) -> Check:
        CHECKS[name] = fn
        return fn
    return deco


def supported_types() -> list[str]:
    return sorted(CHECKS)


def evaluate(output: str, spec: dict[str, Any], ctx: Context) -> Outcome:
    """One promptfoo assertion: its check, then weight 0 forcing a pass (as promptfoo does)."""
    base, inverse = split_type(spec["type"])
    try:
        out = CHECKS[base](output, spec, ctx, inverse)
    except PromptfooCheckError as exc:
        return Outcome(False, 0.0, str(exc), error="assertion error")
    if spec.get("weight") == 0 and not out.error:
        out.passed = True
    return out


def _verdict(base_pass: bool, inverse: bool, what: str) -> Outcome:
    """A yes/no check: pass is inverted by not-, and the score follows the final pass."""
    passed = base_pass != inverse
    return Outcome(passed, 1.0 if passed else 0.0,
                   "assertion passed" if passed else f"expected output to {'not ' if inverse else ''}{what}")


def js_string(value: Any) -> str:
    """String(value) as JavaScript writes it (YAML numbers and booleans reach promptfoo as JS values)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, float) and math.isfinite(value) and value == int(value):
        return str(int(value))
    if isinstance(value, (list, tuple)):
        return ",".join(js_string(v) for v in value)
    return str(value)


def comma_values(value: Any) -> list[Any]:
    """A list value as is; a string split on commas (quotes keep a comma inside a value)."""
    if isinstance(value, list):
        return value
    row = next(csv.reader([str(value)], skipinitialspace=True), [])
    return [v.strip() for v in row]


# --- text ----------------------------------------------------------------------------------------

def _strict_equal(a: Any, b: Any) -> bool:
    """Deep equality as Node's isDeepStrictEqual sees JSON values (true is not 1)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_strict_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_strict_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    return type(a) is type(b) and a == b


@check("equals")
def _equals(output: str, spec: dict, ctx: Context, inverse: bool) -> Outcome:
    value = spec["value"]
    if isinstance(value, (dict, list)):
        try:
            same = _strict_equal(value, strict_json(output))
        except ValueError:
            same = False
        return _verdict(same, inverse, f"equal {json.dumps(value)}")
    return _verdict(output == js_string(value), inverse, f"equal {js_string(value)!r}")


def _contains(fold: bool, mode: str) -> Check:
    def run(output: str, spec: dict, ctx: Context, inverse: bool) -> Outcome:
        hay = output.lower() if fold else output
        needles = [js_string(v) for v in (comma_values(spec["value"]) if mode else [spec["value"]])]
        found = [(n.lower() if fold else n) in hay for n in needles]
        ok = all(found) if mode in ("", "all") else any(found)
        what = {"": "contain", "any": "contain one of", "all": "contain all of"}[mode]
        return _verdict(ok, inverse, f"{what} {', '.join(map(repr, needles))}")
    return run


for _fold, _name in ((False, "contains"), (True, "icontains")):
    CHECKS[_name] = _contains(_fold, "")
    CHECKS[f"{_name}-any"] = _contains(_fold, "any")
    CHECKS[f"{_name}-all"] = _contains(_fold, "all")


@check("starts-with")
def _starts_with(output: str, spec: dict, ctx: Context, inverse: bool) -> Outcome:
    return _verdict(output.startswith(js_string(spec["value"])), inverse,
                    f"start with {js_string(spec['value'])!r}")


@check("regex")
def _regex(output: str, spec: dict, ctx: Context, inverse: bool) -> Outcome:
    return _verdict(re.search(str(spec["value"]), output) is not None, inverse,
                    f"match /{spec['value']}/")


@check("word-count")
def _word_count(output: str, spec: dict, ctx: Context, inverse: bool) -> Outcome:
    n = len(output.split())
    value = spec["value"]
    if isinstance(value, dict):
        lo, hi = value.get("min"), value.get("max")
        ok = (lo is None or n >= lo) and (hi is None or n <= hi)
        return _verdict(ok, inverse, f"have {lo if lo is not None else 0}..{hi if hi is not None else '∞'} "
                                     f"words (has {n})")
    want = float(value)
    return _verdict(n == want, inverse, f"have {js_string(want)} words (has {n})")


@check("levenshtein")
def _levenshtein(output: str, spec: dict, ctx: Context, inverse: bool) -> Outcome:
    """Passes when the edit distance is at most `threshold` (promptfoo: `threshold || 5`).
    promptfoo ignores not- for this type; so does this check."""
    limit = spec.get("threshold") or 5
    dist = Levenshtein.distance(output, js_string(spec["value"]))
    ok = dist <= limit
    return Outcome(ok, 1.0 if ok else 0.0, f"Levenshtein distance {dist} ({'≤' if ok else '>'} {limit:g})")


def _ceiling(what: str, unit: str, measure: Callable[[Context], float]) -> Check:
    def run(output: str, spec: dict, ctx: Context, inverse: bool) -> Outcome:
        got, limit = measure(ctx), spec.get("threshold")
        if limit is None:  # promptfoo records the raw number as a metric, never failing
            return Outcome(True, got, f"{what} {got:g}{unit} (recorded, no threshold)")
        ok = got > limit if inverse else got <= limit
        return Outcome(ok, 1.0 if ok else 0.0, f"{what} {got:g}{unit} "
                       f"({'>' if got > limit else '≤'} threshold {limit:g}{unit})")
    return run


CHECKS["latency"] = _ceiling("latency", " ms", lambda ctx: round(ctx.latency_s * 1000))
CHECKS["cost"] = _ceiling("cost", " USD", lambda ctx: ctx.cost_usd)


@check("finish-reason")
def _finish_reason(output: str, spec: dict, ctx: Context, inverse: bool) -> Outcome:
    got = (ctx.finish_reason or "").lower()
    return _verdict(got == str(spec["value"]).lower(), inverse,
                    f"finish with {spec['value']!r} (finished with {got or 'nothing'!r})")


# --- JSON --------------------------------------------------------------------------------------

def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def strict_json(text: str) -> Any:
    """JSON.parse: no NaN or Infinity (Python's json would take them)."""
    try:
        return jsontext.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise ValueError(exc.msg) from None


def json_objects(text: str) -> list[Any]:
    """Every JSON object embedded in the text, leftmost first (promptfoo's extractJsonObjects)."""
    found: list[Any] = []
    decoder, i = json.JSONDecoder(parse_constant=_refuse_constant), 0
    while True:
        i = text.find("{", i)
        if i < 0:
            return found
        try:
            obj, end = jsontext.raw_decode(decoder, text, i)
        except ValueError:
            i += 1
            continue
        found.append(obj)
        i = end


def _schema_errors(spec: dict, data: Any) -> str | None:
    import jsonschema

    schema = spec.get("value")
    validator = jsonschema.validators.validator_for(schema)(schema)
    err = next(iter(sorted(validator.iter_errors(data), key=lambda e: list(e.path))), None)
    if err is None:
        return None
    return f"{'/'.join(map(str, err.path)) or '(root)'}: {err.message}"


def has_schema(spec: dict) -> bool:
    return spec.get("value") not in (None, "")


@check("is-json")
def _is_json(output: str, spec: dict, ctx: Context, inverse: bool) -> Outcome:
    try:
        data = strict_json(output)
    except ValueError:
        return _verdict(False, inverse, "be valid JSON")
    if not has_schema(spec):
        return _verdict(True, inverse, "be valid JSON")
    problem = _schema_errors(spec, data)
    return _verdict(problem is None, inverse, f"be JSON matching the schema ({problem})" if problem
                    else "be JSON that does not match the schema")


@check("contains-json")
def _contains_json(output: str, spec: dict, ctx: Context, inverse: bool) -> Outcome:
    objects = json_objects(output)
    if not objects or not has_schema(spec):
        return _verdict(bool(objects), inverse, "contain JSON")
    problems = [_schema_errors(spec, o) for o in objects]
    ok = any(p is None for p in problems)
    return _verdict(ok, inverse, "contain JSON matching the schema" if not ok
                    else "contain no JSON matching the schema")


# --- python and the judge ----------------------------------------------------------------------

def _python_result(result: Any, spec: dict, inverse: bool) -> Outcome:
    """promptfoo's normalisation: bool -> pass; number -> score, pass when > 0 (or >= threshold);
    {pass, score, reason} -> as given, failing below threshold."""
    threshold = spec.get("threshold")
    if isinstance(result, str):
        low = result.strip().lower()
        if low in ("true", "false"):
            result = low == "true"
        elif result.strip().startswith("{"):
            try:
                result = jsontext.loads(result)
            except json.JSONDecodeError as exc:
                raise PromptfooCheckError(f"python check returned invalid JSON: {exc.msg}") from None
    if isinstance(result, bool):
        return _verdict(result, inverse, "pass the python check (it returned false)")
    if isinstance(result, dict):
        if "pass" not in result or "score" not in result and "reason" not in result:
            raise PromptfooCheckError("python check must return a bool, a number or {pass, score, reason}")
        if type(result["pass"]).__name__ not in ("bool", "bool_"):   # "false" is truthy: it passed
            raise PromptfooCheckError(f"python check's 'pass' must be true or false, not {result['pass']!r:.60}")
        passed, score = bool(result["pass"]), _score(result.get("score", 1.0 if result["pass"] else 0.0))
        reason = str(result.get("reason", ""))
        if threshold is not None and score < threshold:
            passed, reason = False, f"python score {score:g} is less than threshold {threshold:g}"
        final = passed != inverse
        return Outcome(final, score, reason or ("assertion passed" if final else "python check failed"))
    score = _score(result)
    raw = score > 0 if threshold is None else score >= threshold
    return Outcome(raw != inverse, score, f"python score {score:g}")


def _score(value: Any) -> float:
    """A python check's score: a finite number, or a string of one (as promptfoo reads stdout)."""
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            pass
    score = python_score(value)
    if score is None:   # NaN, infinity, an int past float's range, not a number
        raise PromptfooCheckError(f"python check returned the score {shown_value(value)}: return a bool, "
                                  "a finite number or {pass, score, reason}")
    return score


@check("python")
def _python(output: str, spec: dict, ctx: Context, inverse: bool) -> Outcome:
    context = {"vars": ctx.vars, "prompt": ctx.prompt, "test": {"vars": ctx.vars}}
    try:
        result = spec["_fn"](output, context)
    except PythonLoadError as exc:
        return Outcome(False, 0.0, f"python check: {exc}", error="python error")
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - user code: promptfoo fails the assertion
        return Outcome(False, 0.0, f"python code execution failed: {type(exc).__name__}: {exc}")
    return _python_result(result, spec, inverse)


@check("llm-rubric")
def _llm_rubric(output: str, spec: dict, ctx: Context, inverse: bool) -> Outcome:
    """Bakeoff's judge (which must give an explicit pass and score, where promptfoo would default a
    missing pass to true), then promptfoo's rules: a pass needs score >= threshold, and not-
    inverts the pass and turns the score into 1 - score."""
    out = judge_output(output, spec, ctx)
    if out.error:
        return out
    if spec.get("threshold") is not None:
        out.passed = out.passed and out.score >= spec["threshold"]
    if inverse:
        out.passed, out.score = not out.passed, min(1.0, max(0.0, 1.0 - out.score))
    return out


# --- load-time preparation -------------------------------------------------------------------------

def prepare(spec: dict[str, Any], base_dir: Path) -> dict[str, Any]:
    """Check a spec the way promptfoo would fail on it, and load what it names (schemas, python).
    Raises ValueError with the problem; returns the spec ready for `evaluate`."""
    base, _ = split_type(spec["type"])
    value = spec.get("value")
    if base in NEEDS_VALUE and value in (None, ""):
        raise ValueError(f"{spec['type']!r} needs a value")
    if base == "regex":
        try:
            re.compile(str(value))
        except re.error as exc:
            raise ValueError(f"invalid regex {value!r}: {exc}") from None
    if base == "word-count" and not isinstance(value, dict):
        try:
            float(str(value))
        except ValueError:
            raise ValueError("word-count takes a number or {min, max}") from None
    if base in ("is-json", "contains-json") and has_schema(spec):
        spec = {**spec, "value": _load_schema(value, base_dir)}
    if base == "python":
        spec = {**spec, "_fn": _python_fn(str(value), base_dir)}
    if base in ("latency", "cost") and spec.get("threshold") is None and (
            spec["type"].startswith("not-") or not spec.get("metric")):
        raise ValueError(f"{spec['type']} needs a threshold (or, without one, a metric to record)")
    return {**spec, "_evaluate": evaluate}


def _load_schema(value: Any, base_dir: Path) -> Any:
    import jsonschema

    if isinstance(value, str):
        if value.startswith("file://"):
            path = base_dir / value[len("file://"):]
            try:
                value = parse_yaml(path.read_text(), str(path))[0]
            except OSError as exc:
                raise ValueError(f"cannot read schema {path}: {exc}") from None
        else:
            value = parse_yaml(value, "the inline schema")[0]
    if not isinstance(value, (dict, bool)):
        raise ValueError("the JSON schema must be a mapping, a YAML/JSON string or file://schema.json")
    try:
        jsonschema.validators.validator_for(value).check_schema(value)
    except jsonschema.SchemaError as exc:
        raise ValueError(f"invalid JSON schema: {exc.message}") from None
    return value


def _python_fn(value: str, base_dir: Path) -> Callable[..., Any]:
    if value.startswith("file://"):
        file, _, name = value[len("file://"):].partition(":")
        return load_python_function(base_dir / file, name or "get_assert", file)
    return make_inline_function(value)
