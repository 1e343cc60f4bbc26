"""promptfoo configs as suites: the layout promptfoo reads, and verdicts equal to promptfoo's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bakeoff.errors import SuiteError
from bakeoff.evals.formats.loader import load
from bakeoff.evals.runner import RunOptions, run_suite
from bakeoff.models.ref import ModelRef
from bakeoff.models.registry import register_source
from bakeoff.store import connect
from bakeoff.store.evals import get_run
from cli_run import run

DATA = Path(__file__).resolve().parents[1] / "data" / "promptfoo"


def results_by_case(run_id: int) -> dict[str, dict]:
    return {r["case_id"]: r for r in get_run(connect(), run_id)["results"]}


def test_verdicts_equal_promptfoos_on_fixed_outputs() -> None:
    """Every shared assertion type (and not-, weight, threshold) on outputs fixed by the echo
    provider; expected.json is promptfoo's own result for the same config (record.py)."""
    suite = load(DATA / "verdicts" / "promptfooconfig.yaml")
    assert suite.unsupported == []
    expected = json.loads((DATA / "verdicts" / "expected.json").read_text())["verdicts"]
    got = results_by_case(run_suite(suite, None, RunOptions(speed=False, use_cache=False)))
    assert set(got) == set(expected)
    wrong = {k: (got[k]["status"], round(got[k]["score"], 3), v) for k, v in expected.items()
             if (got[k]["status"] == "pass") != v["pass"] or abs(got[k]["score"] - v["score"]) > 1e-3}
    assert wrong == {}
    parts = {k: [[a["type"], a["passed"], a["score"]] for a in got[k]["assertions"]] for k in got}
    assert parts == {k: v["assertions"] for k, v in expected.items()}


LAYOUT = """\
description: support bot
prompts:
  - "Answer briefly: {{question}}"
  - file://prompts/chat.json
  - id: file://prompts/two.txt
    label: plain
providers:
  - id: openai:chat:served-model
    label: served
    config: {apiBaseUrl: "http://127.0.0.1:9/v1", temperature: 0.2, max_tokens: 40, frequency_penalty: 1}
  - ollama:chat:smol
  - ./weights/tiny.gguf
defaultTest:
  vars: {tone: polite}
  assert:
    - {type: not-icontains, value: "as an ai"}
  options: {provider: bakeoff:smollm2-135m}
tests:
  - description: refund
    vars: {question: "Refund after 40 days?"}
    threshold: 0.5
    assert:
      - {type: icontains-any, value: [no, "30 days"], weight: 2}
      - {type: javascript, value: "output.length < 100"}
      - {type: similar, value: "No refunds after 30 days", threshold: 0.8}
  - file://tests/*.csv
  - file://tests/more.yaml
  - file://tests/rows.jsonl
outputPath: results.json
"""


@pytest.fixture
def layout(tmp_path: Path) -> Path:
    (tmp_path / "prompts").mkdir()
    (tmp_path / "tests").mkdir()
    (tmp_path / "weights").mkdir()
    (tmp_path / "weights" / "tiny.gguf").write_bytes(b"GGUF")
    (tmp_path / "prompts" / "chat.json").write_text(json.dumps([
        {"role": "system", "content": "Be {{tone}}."},
        {"role": "user", "content": "Q: {{question}}"}]))
    (tmp_path / "prompts" / "two.txt").write_text("Question: {{question}}\nAnswer:\n\n ---\n\n")
    (tmp_path / "tests" / "cases.csv").write_text(
        "question,__expected,__expected2,__description,__threshold\n"
        "What is 2+2?,contains: 4,not-icontains:five,arith,\n"
        "Capital of France?,Paris,levenshtein(2):Pariss,capital,0.5\n")
    (tmp_path / "tests" / "more.yaml").write_text(
        "- vars: {question: ['Hi?', 'Hello?']}\n"
        "  assert: [{type: starts-with, value: H}]\n")
    (tmp_path / "tests" / "rows.jsonl").write_text(
        '{"description": "json row", "vars": {"question": "Ping?"}, '
        '"assert": [{"type": "icontains", "value": "pong"}]}\n')
    (tmp_path / "promptfooconfig.yaml").write_text(LAYOUT)
    undo = register_source(lambda s: [ModelRef(name="ollama:smol:latest", engine="llamacpp", source="ollama",
                                               path=str(tmp_path / "weights" / "tiny.gguf"))])
    yield tmp_path / "promptfooconfig.yaml"
    undo()


def test_layout_prompts_providers_tests_and_default_test(layout: Path) -> None:
    suite = load(layout)
    # 1 inline + 2 CSV + 2 (list var expands) + 1 JSONL tests, each under 3 prompts
    assert len(suite.cases) == 6 * 3
    by_id = {c.id: c for c in suite.cases}
    chat = by_id["refund [file://prompts/chat.json]"]
    assert chat.system == "Be polite." and chat.prompt == "Q: Refund after 40 days?"
    assert by_id["refund [plain]"].prompt == "Question: Refund after 40 days?\nAnswer:"  # trimmed
    refund = by_id["refund [Answer briefly: {{question}}]"]
    assert refund.prompt == "Answer briefly: Refund after 40 days?" and refund.threshold == 0.5
    # defaultTest's assertion comes first; javascript and similar are left out (listed below)
    assert [a["type"] for a in refund.asserts] == ["not-icontains", "icontains-any"]
    assert refund.asserts[1]["weight"] == 2
    capital = by_id["capital [plain]"]
    assert [(a["type"], a["value"], a["threshold"]) for a in capital.asserts[1:]] == [
        ("equals", "Paris", None), ("levenshtein", "Pariss", 2.0)]
    assert capital.threshold == 0.5 and by_id["arith [plain]"].threshold is None
    assert {c.vars["question"] for c in suite.cases if c.id.startswith("test-")} >= {"Hi?", "Hello?"}
    assert by_id["json row [plain]"].asserts[-1]["value"] == "pong"
    # providers: endpoint with its own settings, the Ollama model, the GGUF file; the judge
    served, smol, tiny = suite.contestants
    assert (served.ref.name, served.ref.engine, served.ref.endpoint.base_url, served.ref.endpoint.model) == (
        "served", "openai", "http://127.0.0.1:9/v1", "served-model")
    assert served.params == {"temperature": 0.2, "max_tokens": 40}
    assert suite.params_for("served", refund).temperature == 0.2
    assert suite.params_for("tiny", refund).temperature == 0.0
    assert smol.ref.name == "ollama:smol:latest" and tiny.ref.path.endswith("tiny.gguf")
    assert suite.judge == "smollm2-135m"


def test_unsupported_items_are_listed_by_key_and_line(layout: Path) -> None:
    lines = load(layout).unsupported
    text = "\n".join(lines)
    assert f"{layout}:10: providers.0.config.frequency_penalty" in text
    assert f"{layout}:24: tests.0.assert.1.type: assertion type 'javascript' not supported" in text
    assert f"{layout}:25: tests.0.assert.2.type: assertion type 'similar'" in text
    assert f"{layout}:29: outputPath: not supported" in text
    assert len(lines) == 4


def test_unknown_provider_names_it_and_what_maps(tmp_path: Path) -> None:
    cfg = tmp_path / "promptfooconfig.yaml"
    cfg.write_text("prompts: [hi]\nproviders:\n  - anthropic:messages:claude-x\ntests: [{vars: {}}]\n")
    with pytest.raises(SuiteError) as exc:
        load(cfg)
    msg = str(exc.value)
    assert ":3" in msg and "anthropic:messages:claude-x" in msg
    assert "openai:chat:MODEL with config.apiBaseUrl" in msg and "ollama:chat:NAME" in msg


def test_missing_ollama_model_says_which_exist(tmp_path: Path) -> None:
    cfg = tmp_path / "promptfooconfig.yaml"
    cfg.write_text("prompts: [hi]\nproviders: [ollama:chat:llama3.2]\ntests: [{vars: {}}]\n")
    undo = register_source(lambda s: [ModelRef(name="ollama:qwen2.5:0.5b", engine="llamacpp", source="ollama",
                                               path="/nowhere.gguf")])
    try:
        with pytest.raises(SuiteError) as exc:
            load(cfg)
    finally:
        undo()
    assert "llama3.2:latest is not on this machine" in str(exc.value)
    assert "ollama:qwen2.5:0.5b" in str(exc.value)


def test_openai_provider_without_base_url_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("OPENAI_API_BASE_URL", raising=False)
    cfg = tmp_path / "promptfooconfig.yaml"
    cfg.write_text("prompts: [hi]\nproviders: [openai:chat:gpt-4o-mini]\ntests: [{vars: {}}]\n")
    with pytest.raises(SuiteError, match="needs config.apiBaseUrl"):
        load(cfg)


def test_assertion_values_from_files(tmp_path: Path) -> None:
    (tmp_path / "want.txt").write_text("Paris is the capital")
    (tmp_path / "obj.json").write_text('{"a": 1}')
    cfg = tmp_path / "promptfooconfig.yaml"
    cfg.write_text("prompts: ['{{out}}']\nproviders: [echo]\ntests:\n  - vars: {out: x}\n    assert:\n"
                   "      - {type: equals, value: file://want.txt}\n      - {type: equals, value: file://obj.json}\n")
    asserts = load(cfg).cases[0].asserts
    assert [a["value"] for a in asserts] == ["Paris is the capital", {"a": 1}]


def test_bad_assertion_in_a_csv_names_the_csv_row(tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_text("q,__expected\nfine,contains: x\nbad,regex:([a-\n")
    cfg = tmp_path / "promptfooconfig.yaml"
    cfg.write_text("prompts: ['{{q}}']\nproviders: [echo]\ntests: file://t.csv\n")
    with pytest.raises(SuiteError) as exc:
        load(cfg)
    assert f"{tmp_path / 't.csv'}:3" in str(exc.value) and "invalid regex" in str(exc.value)


def test_llm_rubric_follows_promptfoo_threshold_and_inversion(tmp_path: Path) -> None:
    from bakeoff.evals.assertions import Context
    from bakeoff.evals.grade import grade

    cfg = tmp_path / "promptfooconfig.yaml"
    cfg.write_text("prompts: ['{{out}}']\nproviders: [echo]\ntests:\n"
                   "  - vars: {out: fine}\n    assert:\n"
                   "      - {type: llm-rubric, value: polite, threshold: 0.8}\n"
                   "      - {type: not-llm-rubric, value: rude}\n")
    case = load(cfg).cases[0]
    reply = '{"pass": true, "score": 0.7, "reason": "ok"}'
    g = grade(case, "fine", Context(vars={}, prompt="fine", judge=lambda p: reply))
    # pass && 0.7 >= 0.8 fails; not- inverts pass (true -> false) and the score (1 - 0.7)
    assert [(a["passed"], a["score"]) for a in g.assertions] == [(False, 0.7), (False, 0.3)]
    g = grade(case, "fine", Context(vars={}, prompt="fine", judge=lambda p: "looks fine"))
    assert g.status == "error"


def test_cli_lists_unsupported_items_before_the_run(layout: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = layout.parent / "only-echo.yaml"
    cfg.write_text(layout.read_text().split("providers:")[0] + "providers: [echo]\n"
                   "tests:\n  - vars: {question: hi}\n    assert: [{type: javascript, value: 'true'},"
                   " {type: icontains, value: hi}]\n")
    code, out, err = run(capsys, "run", "--suite", str(cfg), "--no-speed")
    assert code == 0, err
    assert "1 item(s) Bakeoff does not support" in err and "only-echo.yaml:10: tests.0.assert.0.type" in err
    assert err.index("does not support") < err.index("starting run")
    assert "echo" in out and "(n=3)" in out


def test_validating_a_config_does_not_run_its_python_assertions(tmp_path: Path) -> None:
    """Loading (as `bakeoff run --dry-run` and the UI do) only parses the file; the module runs when
    an output is graded, and a SystemExit at its top level is that assertion's error, not a crash."""
    from bakeoff.evals.assertions import Context
    from bakeoff.evals.grade import grade

    marker = tmp_path / "imported"
    (tmp_path / "checks.py").write_text(f"open({str(marker)!r}, 'w').close()\nimport sys\nsys.exit(3)\n"
                                        "def get_assert(output, context):\n    return True\n")
    (tmp_path / "bad.py").write_text("def get_assert(output, context)\n")
    cfg = tmp_path / "promptfooconfig.yaml"
    cfg.write_text("prompts: ['{{out}}']\nproviders: [echo]\ntests:\n  - vars: {out: x}\n    assert:\n"
                   "      - {type: python, value: file://checks.py}\n")
    case = load(cfg).cases[0]
    assert not marker.exists()
    g = grade(case, "x", Context(vars={}, prompt="x"))
    assert marker.exists() and g.status == "error"
    assert "SystemExit" in g.assertions[0]["reason"] and "failed to load" in g.assertions[0]["reason"]
    cfg.write_text(cfg.read_text().replace("checks.py", "bad.py"))
    with pytest.raises(SuiteError, match="'bad.py' does not parse at line 1"):
        load(cfg)
    cfg.write_text(cfg.read_text().replace("bad.py", "checks.py:grade"))
    with pytest.raises(SuiteError, match="has no function 'grade'"):
        load(cfg)


def test_inline_python_that_raises_systemexit_fails_the_assertion(tmp_path: Path) -> None:
    from bakeoff.evals.assertions import Context
    from bakeoff.evals.grade import grade

    cfg = tmp_path / "promptfooconfig.yaml"
    cfg.write_text("prompts: ['{{out}}']\nproviders: [echo]\ntests:\n  - vars: {out: x}\n    assert:\n"
                   "      - {type: python, value: \"import sys\\nsys.exit(2)\"}\n")
    g = grade(load(cfg).cases[0], "x", Context(vars={}, prompt="x"))
    assert not g.assertions[0]["passed"] and "SystemExit" in g.assertions[0]["reason"]


def _load_in_capped_child(cfg: Path) -> str:
    """Load a config in a child capped at 2 GiB and 60 s (before the fixes these never ended)."""
    import subprocess
    import sys

    code = ("import resource; resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))\n"
            "from bakeoff.evals.formats.loader import load\nfrom bakeoff.errors import SuiteError\n"
            f"try:\n    print('loaded', len(load({str(cfg)!r}).cases))\n"
            "except SuiteError as exc:\n    print('refused:', exc)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    return proc.stdout + proc.stderr[-300:]


def test_list_valued_vars_that_multiply_past_the_limit_are_refused_before_expanding(tmp_path: Path) -> None:
    """promptfoo runs every combination of list vars: ten vars of ten values are 10**10 cases."""
    cfg = tmp_path / "promptfooconfig.yaml"
    vars_ = ", ".join(f"v{i}: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]" for i in range(10))
    cfg.write_text(f"prompts: ['{{{{v0}}}}']\nproviders: [echo]\ntests:\n  - vars: {{{vars_}}}\n")
    out = _load_in_capped_child(cfg)
    assert "refused:" in out and "more than 100,000 cases" in out and "promptfooconfig.yaml:4" in out, out
    cfg.write_text("prompts: ['{{a}} {{b}}']\nproviders: [echo]\ntests:\n  - vars: {a: [1, 2, 3], b: [x, y]}\n")
    assert len(load(cfg).cases) == 6


def test_yaml_alias_bombs_in_files_a_config_names_are_refused(tmp_path: Path) -> None:
    levels = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    levels += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 10)]
    (tmp_path / "bomb.yaml").write_text("\n".join(levels) + "\n")
    cfg = tmp_path / "promptfooconfig.yaml"
    for assertion in ("{type: equals, value: file://bomb.yaml}", "{type: is-json, value: file://bomb.yaml}"):
        cfg.write_text("prompts: ['{{q}}']\nproviders: [echo]\ntests:\n  - vars: {q: x}\n"
                       f"    assert: [{assertion}]\n")
        out = _load_in_capped_child(cfg)
        assert "refused:" in out and "expands to more than" in out, out


def test_csv_cells_keep_their_line_breaks_and_may_be_long(tmp_path: Path) -> None:
    """Reading the CSV line by line dropped the line breaks inside quoted cells ("line1line2") and
    a cell over 128 KiB failed with an unexpected csv error."""
    long_doc = "word " * 40_000
    (tmp_path / "t.csv").write_text(f'q,__expected\n"line one\nline two",contains: two\n"{long_doc}",contains: word\n')
    cfg = tmp_path / "promptfooconfig.yaml"
    cfg.write_text("prompts: ['{{q}}']\nproviders: [echo]\ntests: file://t.csv\n")
    cases = load(cfg).cases
    assert cases[0].vars["q"] == "line one\nline two"
    assert cases[1].vars["q"] == long_doc


@pytest.mark.parametrize("returned, problem", [
    ("float('nan')", "returned the score nan"),
    ("{'pass': True, 'score': 'x'}", "returned the score 'x'"),
    ("10 ** 400", "returned the score 1000"),
    ("{'pass': True, 'score': 10 ** 5000}", "an integer of 16610 bits"),
    ("{'pass': 'false', 'score': 0}", "'pass' must be true or false"),   # probe 5: was a pass
])
def test_a_python_check_returning_no_finite_score_is_an_error(tmp_path: Path, returned: str, problem: str) -> None:
    """NaN passed as a score; a non-number score or an int past float's range raised out of grading."""
    from bakeoff.evals.assertions import Context
    from bakeoff.evals.grade import grade

    cfg = tmp_path / "promptfooconfig.yaml"
    cfg.write_text("prompts: ['{{out}}']\nproviders: [echo]\ntests:\n  - vars: {out: x}\n    assert:\n"
                   f"      - {{type: python, value: \"{returned}\"}}\n")
    g = grade(load(cfg).cases[0], "x", Context(vars={}, prompt="x"))
    assert not g.assertions[0]["passed"] and problem in g.assertions[0]["reason"], g.assertions[0]
