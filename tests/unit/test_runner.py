"""The runner with fake engines through the real registries, SQLite store and CLI."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from bakeoff.cli.main import main
from bakeoff.evals.runner import Progress, RunOptions, run_suite
from bakeoff.evals.suite import load_suite
from bakeoff.models.ref import ModelRef
from bakeoff.models.registry import register_source
from bakeoff.store import connect
from bakeoff.store.evals import get_run
from fake_engine import install

SUITE = """\
name: tiny
prompt: "{{q}}"
judge: fake-judge
cases:
  - {id: paris, vars: {q: "capital of France"}, assert: [{type: icontains, value: paris}]}
  - {id: math, vars: {q: "2+2"}, assert: [{type: regex, value: "\\\\b4\\\\b"}]}
  - {id: json, vars: {q: "json please"}, assert: [{type: is-json}]}
  - id: polite
    vars: {q: "say hi"}
    assert: [{type: llm-rubric, value: "is polite"}]
"""


def smart(prompt: str) -> str:
    if "France" in prompt:
        return "Paris"
    if "2+2" in prompt:
        return "4"
    if "json" in prompt:
        return '{"ok": true}'
    return "hello friend"


def judge(prompt: str) -> str:
    return '{"pass": true, "score": 0.9, "reason": "kind"}' if "hello friend" in prompt else "hmm"


@pytest.fixture
def fakes(tmp_path: Path):
    undo = install({"fake-smart": smart, "fake-dull": lambda p: "no idea", "fake-judge": judge})
    missing = ModelRef(name="gone-model", engine="llamacpp", source="test",
                       path=str(tmp_path / "removed.gguf"))
    undo_missing = register_source(lambda settings: [missing])
    (tmp_path / "tiny.yaml").write_text(SUITE)
    yield tmp_path / "tiny.yaml"
    undo_missing()
    undo()


class Recorder(Progress):
    def __init__(self) -> None:
        self.events: list[tuple] = []

    def case_done(self, model: str, case_id: str, status: str, cached: bool) -> None:
        self.events.append((model, case_id, status, cached))

    def model_end(self, model: str, status: str, error: str | None) -> None:
        self.events.append((model, "END", status, error))


def test_models_by_cases_with_a_failing_model(fakes: Path) -> None:
    rec = Recorder()
    opts = RunOptions(speed_repeats=2, concurrency=2)
    run_id = run_suite(load_suite(fakes), ["fake-smart", "gone-model", "fake-dull"], opts, progress=rec)
    run = get_run(connect(), run_id)
    assert run["status"] == "incomplete"  # gone-model failed: the same command would retry it
    status = {(r["model"], r["case_id"]): r["status"] for r in run["results"]}
    assert all(status[("fake-smart", c)] == "pass" for c in ("paris", "math", "json", "polite"))
    assert status[("fake-dull", "paris")] == "fail"
    assert status[("fake-dull", "polite")] == "error"  # judge reply without a verdict
    rows = {m["model"]: m for m in run["model_rows"]}
    assert rows["gone-model"]["status"] == "failed" and "removed.gguf" in rows["gone-model"]["error"]
    assert rows["fake-dull"]["status"] == "done"  # the models after the failed one still ran
    polite = next(r for r in run["results"] if r["case_id"] == "polite" and r["model"] == "fake-smart")
    assert "is polite" in polite["assertions"][0]["details"]["judge_prompt"]
    speed = {(s["model"], s["workload"]): s for s in run["speed"]}
    assert len(speed[("fake-smart", "short")]["samples"]) == 2
    assert speed[("fake-smart", "long")]["summary"]["prompt_tps"]["median"] == 1000.0
    both = speed[("fake-smart", "short@2")]["samples"]
    assert len(both) == 2 and all(s["completion_tokens"] == 2 * 2 for s in both)  # 2 x "hello friend"
    assert ("gone-model", "END", "failed") == rec.events[-2][:3] or any(
        e[:3] == ("gone-model", "END", "failed") for e in rec.events)


def test_concurrent_cases_give_the_same_results(fakes: Path) -> None:
    suite = load_suite(fakes)
    seq = get_run(connect(), run_suite(suite, ["fake-smart", "fake-dull"], RunOptions(speed=False)))
    par = get_run(connect(), run_suite(suite, ["fake-smart", "fake-dull"],
                                       RunOptions(speed=False, use_cache=False, concurrency=3)))
    def outcome(run: dict) -> list[tuple]:
        return [(r["model"], r["case_id"], r["position"], r["status"], r["output"]) for r in run["results"]]
    assert outcome(par) == outcome(seq) and not any(r["cached"] for r in par["results"])


def test_cache_reuses_answers_unless_disabled(fakes: Path) -> None:
    suite = load_suite(fakes)
    opts = RunOptions(speed=False)
    first = get_run(connect(), run_suite(suite, ["fake-smart"], opts))
    second = get_run(connect(), run_suite(suite, ["fake-smart"], opts))
    third = get_run(connect(), run_suite(suite, ["fake-smart"], RunOptions(speed=False, use_cache=False)))
    assert first["id"] != second["id"]
    assert [r["cached"] for r in first["results"]] == [0] * 4
    assert [r["cached"] for r in second["results"]] == [1] * 4
    assert [r["output"] for r in second["results"]] == [r["output"] for r in first["results"]]
    assert [r["cached"] for r in third["results"]] == [0] * 4


def test_unfinished_run_resumes_without_duplicates(fakes: Path) -> None:
    suite = load_suite(fakes)
    calls: list[str] = []

    def flaky(prompt: str) -> str:
        calls.append(prompt)
        if len(calls) == 3:
            raise KeyboardInterrupt  # an interruption in the middle of the third case
        return smart(prompt)

    undo = install({"fake-flaky": flaky})
    try:
        with pytest.raises(KeyboardInterrupt):
            run_suite(suite, ["fake-flaky"], RunOptions(speed=False))
        db = connect()
        (run_id,) = [r["id"] for r in db.execute("SELECT id FROM evals_runs WHERE status='running'")]
        assert len(get_run(db, run_id)["results"]) == 2
        assert run_suite(suite, ["fake-flaky"], RunOptions(speed=False)) == run_id
    finally:
        undo()
    run = get_run(connect(), run_id)
    assert sorted(r["case_id"] for r in run["results"]) == ["json", "math", "paris", "polite"]
    assert len(calls) == 5 and run["status"] == "done"  # 2 before, the interrupted one, 2 after


def test_cli_run_runs_report_diff_json(fakes: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--suite", str(fakes), "--models", "fake-smart", "--repeats", "1", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    board = out["leaderboard"][0]
    assert board["pass_rate"] == {"value": 1.0, "se": 0.0, "n": 4}
    assert board["cost"]["blended"]["median"] > 0 and Path(out["report"]["html"]).is_file()
    assert main(["run", "--suite", str(fakes), "--models", "fake-dull", "--no-speed", "--json"]) == 0
    run_b = json.loads(capsys.readouterr().out)["run"]
    assert main(["runs", "--json"]) == 0
    runs = json.loads(capsys.readouterr().out)
    assert [r["id"] for r in runs] == [run_b, out["run"]]
    assert main(["diff", str(out["run"]), str(run_b), "--json"]) == 0
    changed = json.loads(capsys.readouterr().out)["changed"]
    assert {(c["case_id"], c["before"], c["after"]) for c in changed} == {
        ("paris", "pass", "fail"), ("math", "pass", "fail"), ("json", "pass", "fail"),
        ("polite", "pass", "error")}
    assert main(["report", "latest"]) == 0
    text = capsys.readouterr().out
    assert "fake-dull" in text and "report:" in text
    csv_lines = (Path(out["report"]["csv"])).read_text().splitlines()
    assert len(csv_lines) == 5 and csv_lines[0].startswith("run,model,case_id,status")


def test_cli_bad_input_is_one_line(fakes: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(textwrap.dedent(SUITE).replace("icontains", "icontain"))
    assert main(["run", "--suite", str(bad), "--models", "fake-smart"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{bad}:5: cases[0].assert[0].type" in err and "did you mean" in err
    assert main(["run", "--suite", str(fakes), "--models", "fake-smrt"]) == 3
    assert main(["report", "99"]) == 3
    assert connect().execute("SELECT COUNT(*) FROM evals_runs").fetchone()[0] == 0  # nothing ran
    capsys.readouterr()
    assert main(["run", "--suite", str(fakes), "--models", "gone-model", "--no-speed"]) == 1
    out, err = capsys.readouterr()
    assert "gone-model" in out and "every model failed" in err and "removed.gguf" in err
    assert connect().execute("SELECT COUNT(*) FROM evals_runs").fetchone()[0] == 1  # only the last


def test_diff_needs_a_common_model() -> None:
    from bakeoff.errors import InvalidParamsError
    from bakeoff.evals.metrics import diff_runs

    def run(i: int, models: list[str]) -> dict:
        return {"id": i, "model_rows": [{"model": m} for m in models],
                "results": [{"model": m, "case_id": "c", "status": "pass", "output": "", "reason": ""}
                            for m in models]}

    assert diff_runs(run(1, ["a", "b"]), run(2, ["b", "c"])) == []
    with pytest.raises(InvalidParamsError, match="share no model"):
        diff_runs(run(1, ["a", "b"]), run(2, ["c", "d"]))


def test_benchmarks_in_a_suite_get_their_own_columns(fakes: Path) -> None:
    """A suite's benchmarks are scored by the standard-benchmark code and kept apart from the cases."""
    from bakeoff.errors import NotFoundError
    from bakeoff.evals.metrics import leaderboard

    fakes.write_text(SUITE + "benchmarks:\n  - {task: arc_easy, limit: 5}\n")
    suite = load_suite(fakes)
    run = get_run(connect(), run_suite(suite, ["fake-smart"], RunOptions(speed=False)))
    row = leaderboard(run)[0]
    assert row["pass_rate"]["n"] == len(suite.cases)          # benchmark items are not cases
    arc = row["benchmarks"]["arc_easy"]
    assert arc["metric"] == "acc_norm" and arc["n"] == 5 and 0.0 <= arc["value"] <= 1.0
    assert arc["stderr"] is not None
    fakes.write_text(SUITE + "benchmarks:\n  - {task: arc_eazy, limit: 5}\n")
    with pytest.raises(NotFoundError, match="arc_eazy"):
        run_suite(load_suite(fakes), ["fake-smart"], RunOptions(speed=False))
