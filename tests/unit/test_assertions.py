"""Each assertion type, negation, weights and thresholds, through a real suite file."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from bakeoff.evals.assertions import Context, evaluate
from bakeoff.evals.grade import grade
from bakeoff.evals.rubric import parse_verdict
from bakeoff.evals.suite import load_suite


def one_case(tmp_path: Path, asserts: str, threshold: str = "") -> object:
    (tmp_path / "s.yaml").write_text(textwrap.dedent(f"""\
        prompt: "Q: {{{{q}}}}"
        cases:
          - id: c
            vars: {{q: hello}}
            {threshold}
            assert:
        """) + textwrap.indent(textwrap.dedent(asserts), " " * 6))
    return load_suite(tmp_path / "s.yaml").cases[0]


def check(tmp_path: Path, asserts: str, output: str, **ctx: object) -> tuple[str, float, list]:
    case = one_case(tmp_path, asserts)
    g = grade(case, output, Context(vars=case.vars, prompt=case.prompt, **ctx))  # type: ignore
    return g.status, g.score, g.assertions


@pytest.mark.parametrize("spec, good, bad", [
    ("- {type: equals, value: Paris}", " Paris\n", "Paris."),
    ("- {type: contains, value: Paris}", "It is Paris.", "it is paris"),
    ("- {type: icontains, value: Paris}", "it is PARIS", "Lyon"),
    ("- {type: contains-any, value: [cat, dog]}", "a dog", "a bird"),
    ("- {type: contains-all, value: [cat, dog]}", "cat and dog", "cat only"),
    ("- {type: icontains-any, value: [CAT, DOG]}", "a Dog", "a bird"),
    ("- {type: icontains-all, value: [Cat, Dog]}", "CAT and dog", "dog only"),
    ("- {type: starts-with, value: Sure}", "  Sure, here", "Yes, sure"),
    ("- {type: regex, value: '^\\d{3}$'}", "123", "1234"),
    ("- {type: word-count, value: {max: 3}}", "one two three", "one two three four"),
    ("- {type: word-count, value: {min: 2, max: 3}}", "one two", "one"),
    ("- {type: is-json}", '```json\n{"a": 1}\n```', "{a: 1}"),
    ("- {type: matches-json-schema, value: {type: object, required: [a]}}", '{"a": 1}', '{"b": 1}'),
    ("- {type: similar, value: the quick brown fox, threshold: 0.7}", "the quick brown fox jumps",
     "a slow red dog"),
    ("- {type: levenshtein, value: colour, threshold: 0.8}", "color", "flavour"),
    ("- {type: rouge-l, value: National Aeronautics and Space Administration}",
     "National Aeronautics and Space Administration.", "North American Soccer Association"),
])
def test_each_type_passes_and_fails(tmp_path: Path, spec: str, good: str, bad: str) -> None:
    assert check(tmp_path, spec, good)[0] == "pass"
    status, score, rows = check(tmp_path, spec, bad)
    assert status == "fail" and rows[0]["reason"]


def test_contains_all_scores_partially(tmp_path: Path) -> None:
    _, score, rows = check(tmp_path, "- {type: contains-all, value: [a, b, c, d]}", "a b")
    assert score == pytest.approx(0.5) and "missing 'c', 'd'" in rows[0]["reason"]


def test_json_schema_from_file_and_reason_names_the_path(tmp_path: Path) -> None:
    (tmp_path / "schema.json").write_text(json.dumps(
        {"type": "object", "properties": {"age": {"type": "integer"}}, "required": ["age"]}))
    status, _, rows = check(tmp_path, "- {type: matches-json-schema, value: schema.json}", '{"age": "x"}')
    assert status == "fail" and "at age" in rows[0]["reason"]


def test_python_assertion_gets_output_and_vars(tmp_path: Path) -> None:
    (tmp_path / "checks.py").write_text(
        "def short(output, ctx):\n"
        "    return {'pass': len(output) < 10, 'score': 0.25, 'reason': ctx['vars']['q']}\n"
        "def check(output, ctx):\n    return output.isupper()\n")
    status, score, rows = check(tmp_path, "- {type: python, value: 'checks.py:short'}", "tiny")
    assert (status, score, rows[0]["reason"]) == ("pass", 0.25, "hello")
    assert check(tmp_path, "- {type: python, value: checks.py}", "LOUD")[0] == "pass"
    assert check(tmp_path, "- {type: python, value: checks.py}", "quiet")[0] == "fail"


def test_latency_and_cost_ceilings(tmp_path: Path) -> None:
    assert check(tmp_path, "- {type: latency, value: 500}", "x", latency_s=0.2)[0] == "pass"
    assert check(tmp_path, "- {type: latency, value: 500}", "x", latency_s=0.9)[0] == "fail"
    assert check(tmp_path, "- {type: cost, value: 0.001}", "x", cost_usd=0.0001)[0] == "pass"
    assert check(tmp_path, "- {type: cost, value: 0.001}", "x", cost_usd=0.01)[0] == "fail"


def test_negation_flips_pass_and_score(tmp_path: Path) -> None:
    status, score, rows = check(tmp_path, "- {type: not-contains, value: sorry}", "I am sorry")
    assert status == "fail" and score == 0.0 and rows[0]["reason"] == "should not be: contains 'sorry'"
    assert check(tmp_path, "- {type: not-icontains-any, value: [x, y]}", "abc")[0] == "pass"
    assert check(tmp_path, "- {type: not-is-json}", "plain words")[0] == "pass"


def test_threshold_on_graded_score(tmp_path: Path) -> None:
    spec = "- {type: contains-all, value: [a, b, c, d], threshold: 0.5}"
    assert check(tmp_path, spec, "a b")[0] == "pass"
    assert check(tmp_path, spec, "a")[0] == "fail"


def test_weights_and_case_threshold(tmp_path: Path) -> None:
    asserts = """\
        - {type: contains, value: a, weight: 3}
        - {type: contains, value: zzz, weight: 1}
        """
    case = one_case(tmp_path, asserts, threshold="threshold: 0.75")
    g = grade(case, "a", Context(vars={}, prompt="Q"))
    assert (g.status, g.pass_score) == ("pass", 0.75) and "failed" in g.reason
    case = one_case(tmp_path, asserts)  # default threshold 1: every weighted assertion must pass
    assert grade(case, "a", Context(vars={}, prompt="Q")).status == "fail"
    zero = one_case(tmp_path, "- {type: contains, value: a}\n- {type: contains, value: zzz, weight: 0}\n")
    assert grade(zero, "a", Context(vars={}, prompt="Q")).status == "pass"  # weight 0: report only


@pytest.mark.parametrize("reply, verdict", [
    ('{"pass": true, "score": 0.9, "reason": "good"}', (True, 0.9, "good")),
    ('Sure! Here is my grade:\n```json\n{"PASS": "no", "Score": "0.2"}\n```', (False, 0.2, "")),
    ("pass: yes\nscore: 1\nreason: exact", (True, 1.0, "exact")),
    ("The answer looks fine to me.", None),
    ('{"pass": true}', None),
    ('{"pass": "maybe", "score": 0.5}', None),
    ('{"pass": true, "score": 7}', None),   # out of range: never guessed
])
def test_judge_reply_parsing(reply: str, verdict: tuple | None) -> None:
    assert parse_verdict(reply) == verdict


def test_llm_rubric_stores_prompt_and_reply_and_never_passes_on_garbage(tmp_path: Path) -> None:
    asserts = "- {type: not-llm-rubric, value: The answer is rude}\n"
    prompts: list[str] = []

    def judge(prompt: str) -> str:
        prompts.append(prompt)
        return "I think it is fine"

    status, _, rows = check(tmp_path, asserts, "hello there", judge=judge)
    assert status == "error" and rows[0]["error"] == "judge error"
    assert rows[0]["details"]["judge_reply"] == "I think it is fine"
    assert "The answer is rude" in rows[0]["details"]["judge_prompt"] == prompts[0]
    status, score, rows = check(tmp_path, "- {type: llm-rubric, value: polite, threshold: 0.8}",
                                "hi", judge=lambda p: '{"pass": true, "score": 0.6}')
    assert status == "fail" and score == pytest.approx(0.6)  # threshold overrides the judge's pass
    assert check(tmp_path, "- {type: llm-rubric, value: polite}", "hi")[0] == "error"  # no judge


def test_evaluate_is_usable_without_a_suite() -> None:
    out = evaluate("abc", {"type": "not-regex", "value": "z", "weight": 1.0}, Context({}, ""))
    assert out.passed and out.score == 1.0


def test_loading_a_suite_does_not_import_its_python_checks(tmp_path: Path) -> None:
    marker = tmp_path / "imported"
    (tmp_path / "checks.py").write_text(
        f"open({str(marker)!r}, 'w').close()\nimport sys\nsys.exit(3)\ndef check(output, ctx):\n    return True\n")
    case = one_case(tmp_path, "- {type: python, value: checks.py}")
    assert not marker.exists()                      # validation only parsed the file
    g = grade(case, "x", Context(vars=case.vars, prompt=case.prompt))
    assert marker.exists() and g.status == "error"  # graded: imported, and its exit is reported
    assert "SystemExit" in g.assertions[0]["reason"] and "failed to load" in g.assertions[0]["reason"]


def test_python_file_that_does_not_parse_or_lacks_the_function_stops_the_suite(tmp_path: Path) -> None:
    from bakeoff.errors import SuiteError

    (tmp_path / "bad.py").write_text("def check(output, ctx)\n    return True\n")
    with pytest.raises(SuiteError, match="does not parse at line 1"):
        one_case(tmp_path, "- {type: python, value: bad.py}")
    (tmp_path / "other.py").write_text("def grade(output, ctx):\n    return True\n")
    with pytest.raises(SuiteError, match="has no function 'check'"):
        one_case(tmp_path, "- {type: python, value: other.py}")


@pytest.mark.parametrize("body, problem", [
    ("raise SystemExit(1)", "raised SystemExit"),
    ("return 'high'", "returned the score 'high'"),
    ("return float('nan')", "returned the score nan"),
    ("return {'pass': True, 'score': 'x'}", "returned the score 'x'"),
    ("return None", "returned the score None"),
    ("return 10 ** 400", "returned the score 1000"),                    # past float: OverflowError
    ("return {'pass': False, 'score': 10 ** 5000}", "an integer of 16610 bits"),   # past repr's limit
    # probe 5: a string counted as a pass ("false" is truthy), a reason whose str() raises
    ("return {'pass': 'false', 'score': 0}", "returned 'pass': 'false'"),
    ("return {'pass': 'no'}", "returned 'pass': 'no'"),
    ("class R:\n        def __str__(self): raise ValueError('r')\n    return {'pass': True, 'reason': R()}",
     "raised ValueError"),
])
def test_python_check_misbehaving_is_an_error_not_a_crash(tmp_path: Path, body: str, problem: str) -> None:
    (tmp_path / "checks.py").write_text(f"def check(output, ctx):\n    {body}\n")
    status, score, rows = check(tmp_path, "- {type: python, value: checks.py}", "x")
    assert status == "error" and score == 0.0
    assert problem in rows[0]["reason"]


DEEP = "[" * 100_000 + "]" * 100_000   # deeper than Python's JSON parser can recurse


@pytest.mark.parametrize("spec", ["- {type: is-json}", "- {type: matches-json-schema, value: {type: array}}",
                                  "- {type: llm-rubric, value: polite}"])
def test_an_answer_nested_too_deep_for_json_is_graded_not_a_crash(tmp_path: Path, spec: str) -> None:
    """One answer (or judge reply) of nested brackets used to raise RecursionError out of grading,
    failing every remaining case of that model."""
    judge_reply = '{"a": ' * 3_000
    status, _, rows = check(tmp_path, spec, DEEP, judge=lambda prompt: judge_reply)
    assert status in ("fail", "error") and rows[0]["reason"]


def test_promptfoo_json_checks_and_tool_calls_survive_deep_nesting() -> None:
    from bakeoff.engines.toolcalls import parse_calls
    from bakeoff.evals.formats.promptfoo_checks import evaluate as pf_evaluate

    ctx = Context(vars={}, prompt="")
    for kind in ("is-json", "contains-json"):
        out = pf_evaluate("{\"a\": " + DEEP + "}", {"type": kind}, ctx)
        assert not out.passed
    assert parse_calls(DEEP, {"f"}) == (DEEP, [])
    assert parse_calls("<tool_call>" + DEEP + "</tool_call>", {"f"})[1] == []
