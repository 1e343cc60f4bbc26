"""Suites that offer tools: tool-call / no-tool-call assertions and the rate of valid tool calls."""

from __future__ import annotations

from pathlib import Path

import pytest

from bakeoff.errors import SuiteError
from bakeoff.evals.formats.loader import load
from bakeoff.evals.metrics import leaderboard
from bakeoff.evals.runner import RunOptions, run_suite
from bakeoff.store import connect
from bakeoff.store.evals import get_run
from cli_run import run
from fake_engine import install

SUITE = """\
name: tools
prompt: "{{q}}"
tools:
  - type: function
    function:
      name: get_weather
      parameters:
        type: object
        properties: {city: {type: string}, unit: {enum: [celsius, fahrenheit]}}
        required: [city]
cases:
  - id: weather
    vars: {q: "Weather in Paris?"}
    assert: [{type: tool-call, value: {name: get_weather, arguments: {city: Paris}}}]
  - id: weather-schema
    vars: {q: "Weather in Oslo in celsius?"}
    tool_choice: required
    assert: [{type: tool-call, value: {name: get_weather, schema: {required: [unit]}}}]
  - id: chit-chat
    vars: {q: "Hello!"}
    assert: [{type: no-tool-call}, {type: icontains, value: hello}]
"""
GOOD = {"Weather in Paris?": '<tool_call>{"name": "get_weather", "arguments": {"city": "Paris"}}</tool_call>',
        "Weather in Oslo in celsius?": '<tool_call>{"name": "get_weather", "arguments": {"city": "Oslo", '
                                       '"unit": "celsius"}}</tool_call>',
        "Hello!": "Hello there!"}
BAD = {"Weather in Paris?": '<tool_call>{"name": "get_weather", "arguments": {"city": 7}}</tool_call>',
       "Weather in Oslo in celsius?": '<tool_call>{"name": "get_weather", "arguments": {"city": "Oslo"}}</tool_call>',
       "Hello!": '<tool_call>{"name": "get_weather", "arguments": {"city": "Hello"}}</tool_call>'}


@pytest.fixture
def suite_path(tmp_path: Path) -> Path:
    path = tmp_path / "tools.yaml"
    path.write_text(SUITE)
    undo = install({"fake-good": GOOD.get, "fake-bad": BAD.get})
    yield path
    undo()


def test_tool_cases_grade_and_report_the_valid_call_rate(suite_path: Path) -> None:
    suite = load(suite_path)
    assert [c.forced for c in suite.cases] == [None, "*", None]
    assert [t.name for t in suite.cases[0].tools] == ["get_weather"]
    run_id = run_suite(suite, ["fake-good", "fake-bad"], RunOptions(speed=False))
    run = get_run(connect(), run_id)
    status = {(r["model"], r["case_id"]): (r["status"], r["reason"]) for r in run["results"]}
    assert {k: v[0] for k, v in status.items()} == {
        ("fake-good", "weather"): "pass", ("fake-good", "weather-schema"): "pass", ("fake-good", "chit-chat"): "pass",
        ("fake-bad", "weather"): "fail", ("fake-bad", "weather-schema"): "fail", ("fake-bad", "chit-chat"): "fail"}
    assert "invalid call: get_weather arguments: 7 is not of type 'string'" in status[("fake-bad", "weather")][1]
    assert ("expected a call to get_weather with arguments matching the schema"
            in status[("fake-bad", "weather-schema")][1])
    assert "called get_weather instead of answering" in status[("fake-bad", "chit-chat")][1]
    rates = {r["model"]: r["tool_calls"] for r in leaderboard(run)}
    # two cases expect a call; fake-bad's second call is valid (it just lacks the unit)
    assert (rates["fake-good"]["value"], rates["fake-good"]["n"]) == (1.0, 2)
    assert (rates["fake-bad"]["value"], rates["fake-bad"]["n"]) == (0.5, 2)


def test_leaderboard_shows_the_column(suite_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "run", "--suite", str(suite_path), "--models", "fake-good,fake-bad", "--no-speed")
    assert code == 0, err
    assert "valid tool calls" in out and "50% ± 35% (n=2)" in out and "100% ± 0% (n=2)" in out
    report = next(line.split("report: ", 1)[1] for line in out.splitlines() if line.startswith("report: "))
    html = open(report.strip()).read()
    assert "valid tool calls ± SE (n)" in html and "50% ± 35% (n=2)" in html


@pytest.mark.parametrize("change, where, words", [
    (("type: object\n", "type: objekt\n"), "tools.yaml:8", "tools[0] (get_weather): invalid JSON schema"),
    (("tool_choice: required", "tool_choice: get_time"), "tools.yaml:17", "tool_choice 'get_time' is not auto"),
    (("{type: no-tool-call}", "{type: tool-call, value: {nme: x}}"), "tools.yaml:21", "function name or {name"),
])
def test_bad_tools_in_a_suite_name_the_line(suite_path: Path, change: tuple[str, str], where: str,
                                            words: str) -> None:
    suite_path.write_text(SUITE.replace(*change, 1))
    with pytest.raises(SuiteError) as exc:
        load(suite_path)
    assert where in str(exc.value) and words in str(exc.value)
