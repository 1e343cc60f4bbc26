"""Suite loading: the starter suite, case files, and validation errors that name file, line, field."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from bakeoff.errors import NotFoundError, SuiteError
from bakeoff.evals.suite import load_suite

GOOD = """\
name: demo
system: "Be brief about {{topic}}."
prompt: "Question: {{q}}"
params: {max_tokens: 16}
defaults:
  vars: {topic: geography}
cases:
  - id: one
    vars: {q: "Capital of France?"}
    assert: [{type: icontains, value: paris}]
"""


def write(tmp_path: Path, text: str, name: str = "suite.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def error_of(path: Path) -> SuiteError:
    with pytest.raises(SuiteError) as info:
        load_suite(path)
    return info.value


def test_starter_suite_has_40_plus_distinct_cases_across_skills() -> None:
    suite = load_suite("starter")
    assert len(suite.cases) >= 40
    groups = {c.id.split("-")[0] for c in suite.cases}
    assert {"fact", "math", "format", "sentiment", "topic", "extract", "rewrite"} <= groups
    assert all(c.params.temperature == 0 for c in suite.cases)


def test_render_defaults_and_params(tmp_path: Path) -> None:
    suite = load_suite(write(tmp_path, GOOD))
    case = suite.cases[0]
    assert case.prompt == "Question: Capital of France?"
    assert case.system == "Be brief about geography."
    assert (case.params.max_tokens, case.params.temperature) == (16, 0.0)
    assert case.source.endswith("suite.yaml:8")


@pytest.mark.parametrize("mutate, line, field, words", [
    (lambda s: s.replace("type: icontains", "type: icontain"), 10, "cases[0].assert[0].type",
     "unknown assertion type 'icontain'"),
    (lambda s: s.replace("{q: \"Capital of France?\"}", "{question: x}"), 9, "cases[0].vars",
     "no variable 'q'"),
    (lambda s: s.replace("type: icontains, value: paris", "type: regex, value: '(unclosed'"), 10,
     "cases[0].assert[0].value", "invalid regex"),
    (lambda s: s.replace("type: icontains, value: paris", "type: matches-json-schema, value: nope.json"),
     10, "cases[0].assert[0].value", "cannot read schema file 'nope.json'"),
    (lambda s: s.replace("    assert:", "    asert: x\n    assert:"), 10, "cases[0].asert",
     "unknown field 'asert'"),
    (lambda s: s.replace("max_tokens: 16", "max_tokens: 16, temperature: 9"), 4, "params.temperature",
     "temperature"),
    (lambda s: s.replace("cases:", "cases:\n  - {id: one, vars: {q: a}, assert: [{type: equals, value: a}]}"),
     9, "cases[1].id", "duplicate case id 'one'"),
    (lambda s: s.replace("value: paris}]", "value: paris, weight: -1}]"), 10,
     "cases[0].assert[0].weight", "greater than or equal to 0"),
])
def test_validation_errors_name_file_line_and_field(tmp_path: Path, mutate, line: int, field: str,
                                                    words: str) -> None:
    path = write(tmp_path, mutate(GOOD))
    err = error_of(path)
    assert (err.file, err.line, err.field) == (str(path), line, field)
    assert words in str(err) and str(err).startswith(f"{path}:{line}: {field}: ")


def test_yaml_syntax_error_has_line(tmp_path: Path) -> None:
    err = error_of(write(tmp_path, GOOD.replace("params: {max_tokens: 16}", "params: {max_tokens: 16")))
    assert err.line is not None and 4 <= err.line <= 6 and "YAML error" in str(err)


def test_cases_from_jsonl_and_csv_with_row_lines(tmp_path: Path) -> None:
    write(tmp_path, '{"id": "j1", "vars": {"q": "a"}, "assert": [{"type": "equals", "value": "a"}]}\n'
          '\n{"q": "plain row"}\n', "more.jsonl")
    write(tmp_path, "__id,q,__expected\nc1,two plus two,icontains: four\nc2,hi,hello\n", "t.csv")
    text = GOOD + "cases_from: [more.jsonl, t.csv]\n"
    text = text.replace("params: {max_tokens: 16}",
                        "params: {max_tokens: 16}\n" + "defaults:\n  vars: {topic: x}\n  assert: "
                        "[{type: not-contains, value: ERROR, weight: 0}]").replace(
        "defaults:\n  vars: {topic: geography}\n", "", 1)
    suite = load_suite(write(tmp_path, text))
    ids = [c.id for c in suite.cases]
    assert ids == ["one", "j1", "case-3", "c1", "c2"]
    c1 = suite.cases[3]
    assert c1.prompt == "Question: two plus two"
    assert [a["type"] for a in c1.asserts] == ["not-contains", "icontains"]
    assert suite.cases[4].asserts[-1] == {**suite.cases[4].asserts[-1], "type": "equals", "value": "hello"}
    # the plain JSONL row has only the default (weight 0) assertion: allowed, it still reports
    write(tmp_path, '{"id": "bad", "vars": {"q": 1}, "assert": [{"type": "nope"}]}\n', "more.jsonl")
    err = error_of(tmp_path / "suite.yaml")
    assert (Path(err.file).name, err.line, err.field) == ("more.jsonl", 1, "assert[0].type")


def test_missing_case_file_and_case_without_assertions(tmp_path: Path) -> None:
    err = error_of(write(tmp_path, GOOD + "cases_from: missing.jsonl\n"))
    assert err.line == 11 and "not found" in str(err)
    err = error_of(write(tmp_path, GOOD.replace("    assert: [{type: icontains, value: paris}]\n", "")))
    assert err.line == 8 and "no assertions" in str(err)


def test_benchmarks_section_is_validated(tmp_path: Path) -> None:
    ok = load_suite(write(tmp_path, GOOD + "benchmarks:\n  - {task: arc_easy, limit: 20, shots: 5}\n"))
    assert [(b.task, b.limit, b.shots) for b in ok.benchmarks] == [("arc_easy", 20, 5)]
    err = error_of(write(tmp_path, GOOD + "benchmarks:\n  - {task: arc_easy, limit: 0}\n"))
    assert (err.line, err.field) == (12, "benchmarks[0].limit")


def test_unknown_suite_name_suggests() -> None:
    with pytest.raises(NotFoundError) as info:
        load_suite("startr")
    assert "starter" in str(info.value)


def _bomb(levels: int = 10) -> str:
    """A few hundred bytes that expand to 10**levels strings through nested aliases."""
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, levels)]
    return "\n".join(lines) + f"\nname: bomb\nprompt: hi\ncases: *a{levels - 1}\n"


def test_yaml_alias_bomb_is_refused_at_once(tmp_path: Path) -> None:
    import subprocess
    import sys

    path = write(tmp_path, _bomb())
    assert path.stat().st_size < 1000
    # In a child with a memory cap: before the fix this walked 10**10 nodes (it never ended).
    code = ("import resource, sys; resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))\n"
            "from bakeoff.evals.suite import load_suite\n"
            "from bakeoff.errors import SuiteError\n"
            f"try:\n    load_suite({str(path)!r})\nexcept SuiteError as exc:\n    print('refused:', exc)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert "refused:" in proc.stdout and "expands to more than" in proc.stdout, proc.stderr[-500:]
    assert "suite.yaml:6:" in proc.stdout   # it names the line where the expansion passes the limit


@pytest.mark.parametrize("text", ["cases: " + "[" * 50_000 + "]" * 50_000 + "\n",
                                  "cases:\n" + "".join(" " * i + "- \n" for i in range(3000))])
def test_yaml_nested_too_deeply_is_a_suite_error(tmp_path: Path, text: str) -> None:
    """Flow lists 50,000 deep (100 kB) or block lists 3,000 deep: PyYAML recursed past Python's
    limit and the run stopped with 'unexpected RecursionError'."""
    with pytest.raises(SuiteError, match="nested too deeply"):
        load_suite(write(tmp_path, text))


def test_recursive_alias_is_refused_and_ordinary_aliases_work(tmp_path: Path) -> None:
    err = error_of(write(tmp_path, GOOD.replace("params: {max_tokens: 16}", "params: &p [*p]")))
    assert "refers to itself" in str(err) and err.line == 4
    shared = GOOD.replace("    vars: {q: \"Capital of France?\"}\n",
                          "    vars: &v {q: \"Capital of France?\"}\n") + \
        "  - id: two\n    vars: *v\n    assert: [{type: icontains, value: paris}]\n"
    suite = load_suite(write(tmp_path, shared, "shared.yaml"))
    assert [c.prompt for c in suite.cases] == ["Question: Capital of France?"] * 2


def test_case_history_is_sent_before_the_prompt_and_validated(tmp_path: Path) -> None:
    plain = load_suite(write(tmp_path, GOOD))
    multi = load_suite(write(tmp_path, GOOD + """\
    history:
      - {role: user, content: "I mean the country."}
      - {role: assistant, content: "Understood."}
""", "multi.yaml"))
    assert [(m.role, m.content) for m in multi.cases[0].messages()] == [
        ("system", "Be brief about geography."), ("user", "I mean the country."),
        ("assistant", "Understood."), ("user", "Question: Capital of France?")]
    assert multi.sha256 != plain.sha256        # a different conversation is a different suite
    bad = write(tmp_path, GOOD + "    history: [{role: robot, content: hi}]\n", "bad.yaml")
    err = error_of(bad)
    assert err.line == 11 and "history[0].role" in str(err)


def test_a_lone_surrogate_in_a_suite_is_a_suite_error(tmp_path: Path) -> None:
    """YAML's "\\ud800" escape gives a str no tokenizer or database takes: every model of the run
    failed with UnicodeEncodeError (the case id reached SQLite)."""
    text = 'cases:\n  - {id: "a\\ud800", prompt: "hi", assert: [{type: contains, value: x}]}\n'
    with pytest.raises(SuiteError, match=r"cases\[0\]\.id \(character 1\) holds a lone UTF-16 surrogate"):
        load_suite(write(tmp_path, text))
