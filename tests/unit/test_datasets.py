"""Cases from datasets: local Parquet/Arrow/JSONL/CSV files and hf://datasets in the HF cache."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest

from bakeoff.errors import SuiteError
from bakeoff.evals.formats.loader import load
from bakeoff.evals.runner import RunOptions, run_suite
from bakeoff.store import connect
from bakeoff.store.evals import get_run
from fake_engine import install

ROWS = [{"qid": f"q{i}", "question": f"What is {i} + {i}?", "answer": str(2 * i), "level": i % 3}
        for i in range(1, 21)]


def write_table(path: Path) -> Path:
    table = pa.Table.from_pylist(ROWS)
    if path.suffix == ".parquet":
        pq.write_table(table, path)
    elif path.suffix == ".arrow":  # the IPC stream format, as HF datasets write their cache files
        with pa.ipc.new_stream(str(path), table.schema) as w:
            w.write_table(table)
    elif path.suffix == ".csv":
        pcsv.write_csv(table, path)
    else:
        path.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    return path


def suite_file(tmp_path: Path, cases: str, extra: str = "") -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(f'prompt: "Q: {{{{question}}}} A:"\n{extra}cases:\n{cases}')
    return path


@pytest.mark.parametrize("name", ["data.parquet", "data.arrow", "data.jsonl", "data.csv"])
def test_local_files_map_columns_to_vars_and_expected(tmp_path: Path, name: str) -> None:
    write_table(tmp_path / name)
    suite = load(suite_file(tmp_path, f"  from: {name}\n  vars: {{question: question}}\n"
                                      "  expected: answer\n  id: qid\n  limit: 5\n"))
    assert [c.id for c in suite.cases] == ["q1", "q2", "q3", "q4", "q5"]
    first = suite.cases[0]
    assert first.prompt == "Q: What is 1 + 1? A:" and first.vars == {"question": "What is 1 + 1?", "expected": "2"}
    # no assertion written: the answer must contain the expected column's value
    assert [(a["type"], a["value"]) for a in first.asserts] == [("icontains", "2")]


def test_seeded_sample_is_stable_and_limit_applies_after(tmp_path: Path) -> None:
    write_table(tmp_path / "d.parquet")
    ids = []
    for seed in (1, 1, 2):
        s = load(suite_file(tmp_path, f"  from: d.parquet\n  id: qid\n  expected: answer\n  sample: 6\n"
                                      f"  seed: {seed}\n  limit: 4\n"))
        ids.append([c.id for c in s.cases])
    assert ids[0] == ids[1] and ids[0] != ids[2] and len(ids[0]) == 4
    assert ids[0] == sorted(ids[0], key=lambda q: int(q[1:]))  # rows keep file order
    # without a vars mapping every column is a var; defaults.assert can use {{expected}}
    s = load(suite_file(tmp_path, "  d.parquet\n", 'defaults:\n  assert: [{type: equals, value: "{{answer}}"}]\n'))
    assert len(s.cases) == 20 and s.cases[2].vars["level"] == 0
    assert s.cases[2].asserts[0]["value"] == "6" and s.cases[2].id == "row-3"


def test_missing_column_names_the_columns_that_exist(tmp_path: Path) -> None:
    write_table(tmp_path / "d.parquet")
    with pytest.raises(SuiteError) as exc:
        load(suite_file(tmp_path, "  from: d.parquet\n  vars: {question: prompt}\n"))
    msg = str(exc.value)
    assert "s.yaml:2" in msg and "column 'prompt'" in msg and "qid, question, answer, level" in msg


def test_missing_file_and_bad_fields_are_suite_errors(tmp_path: Path) -> None:
    with pytest.raises(SuiteError, match="dataset file 'nope.parquet' not found"):
        load(suite_file(tmp_path, "  nope.parquet\n"))
    with pytest.raises(SuiteError, match="unknown field 'splt'"):
        load(suite_file(tmp_path, "  from: x.parquet\n  splt: test\n"))



def test_a_jsonl_row_nested_too_deep_is_an_error_not_a_crash(tmp_path: Path) -> None:
    """pyarrow's JSON reader died with SIGSEGV on a row nested 50,000 deep (a dataset from the Hub
    is someone else's file). In a child, so a regression fails the test instead of the run."""
    import subprocess
    import sys

    rows = [json.dumps(r) for r in ROWS[:3]] + ['{"question": ' + "[" * 50_000 + "]" * 50_000 + "}"]
    (tmp_path / "data.jsonl").write_text("\n".join(rows) + "\n")
    suite = suite_file(tmp_path, "  data.jsonl\n")
    code = ("from bakeoff.evals.formats.loader import load\nfrom bakeoff.errors import SuiteError\n"
            f"try:\n    load({str(suite)!r})\nexcept SuiteError as exc:\n    print('refused:', exc)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "refused:" in proc.stdout, (proc.returncode, proc.stderr[-300:])
    assert "data.jsonl:4" in proc.stdout and "nested too deeply" in proc.stdout


# --- hf://datasets through the Hugging Face cache layout --------------------------------------

CARD = """---
configs:
- config_name: main
  data_files:
  - split: train
    path: main/train-*
  - split: test
    path: main/test-*
- config_name: socratic
  data_files:
  - split: test
    path: socratic/test-*
---
# acme/arith
"""


def hf_cache(root: Path, repo: str, files: dict[str, bytes]) -> Path:
    """The layout huggingface_hub writes: blobs by hash, snapshots/<commit>/ symlinks, refs/main."""
    base = root / f"datasets--{repo.replace('/', '--')}"
    commit = "1" * 40
    (base / "refs").mkdir(parents=True)
    (base / "refs" / "main").write_text(commit)
    for name, data in files.items():
        blob = base / "blobs" / hashlib.sha256(data).hexdigest()
        blob.parent.mkdir(parents=True, exist_ok=True)
        blob.write_bytes(data)
        link = base / "snapshots" / commit / name
        link.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(os.path.relpath(blob, link.parent), link)
    return root


@pytest.fixture
def cached_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    parquet = write_table(tmp_path / "rows.parquet").read_bytes()
    cache = hf_cache(tmp_path / "hf", "acme/arith", {"README.md": CARD.encode(),
                                                     "main/test-00000-of-00001.parquet": parquet,
                                                     "socratic/test-00000-of-00001.parquet": parquet})
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    offline(monkeypatch, True)
    return tmp_path


def offline(monkeypatch: pytest.MonkeyPatch, on: bool) -> None:
    """huggingface_hub reads HF_HUB_OFFLINE when imported; a test sets both the variable and that."""
    from huggingface_hub import constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1" if on else "0")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", on)


def test_hub_dataset_read_from_the_local_cache_offline(cached_hub: Path) -> None:
    suite = load(suite_file(cached_hub, "  from: hf://datasets/acme/arith\n  subset: main\n  split: test\n"
                                        "  expected: answer\n  limit: 3\n"))
    assert [c.vars["expected"] for c in suite.cases] == ["2", "4", "6"]


def test_hub_dataset_errors_name_what_exists(cached_hub: Path) -> None:
    cases = {"  from: hf://datasets/acme/arith\n  split: test\n": "several subsets: main, socratic",
             "  from: hf://datasets/acme/arith\n  subset: main\n": "several splits: test, train",
             "  from: hf://datasets/acme/arith\n  subset: main\n  split: validation\n": "no split 'validation'",
             "  from: hf://datasets/acme/other\n  split: test\n": "not in the local Hugging Face cache"}
    for text, message in cases.items():
        with pytest.raises(SuiteError) as exc:
            load(suite_file(cached_hub, text))
        assert message in str(exc.value), text
    # declared in the card but not downloaded: the train split is not cached, and offline is offline
    with pytest.raises(SuiteError, match="HF_HUB_OFFLINE is set"):
        load(suite_file(cached_hub, "  from: hf://datasets/acme/arith\n  subset: main\n  split: train\n"))


def test_dataset_cases_run_and_grade(tmp_path: Path) -> None:
    write_table(tmp_path / "d.jsonl")
    path = tmp_path / "s.yaml"
    path.write_text('prompt: "{{question}} = {{answer}}"\ncases: {from: d.jsonl, id: qid, expected: level, limit: 6}\n')
    undo = install({"fake-echo": lambda prompt: prompt})
    try:
        run_id = run_suite(load(path), ["fake-echo"], RunOptions(speed=False))
    finally:
        undo()
    status = {r["case_id"]: r["status"] for r in get_run(connect(), run_id)["results"]}
    # the model repeats "What is i + i? = 2i"; the case passes when that contains the level (i % 3)
    want = {f"q{i}": "pass" if str(i % 3) in f"What is {i} + {i}? = {2 * i}" else "fail" for i in range(1, 7)}
    assert status == want and set(want.values()) == {"pass", "fail"}


def test_hub_dataset_fetched_once_from_a_hub_then_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from hubserver import Hub

    card = tmp_path / "README.md"
    card.write_text(CARD)
    files = {"README.md": card, "main/test-00000-of-00001.parquet": write_table(tmp_path / "t.parquet"),
             "main/train-00000-of-00001.parquet": write_table(tmp_path / "tr.parquet")}
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    offline(monkeypatch, False)
    text = "  from: hf://datasets/acme/arith\n  subset: main\n  split: test\n  expected: answer\n  limit: 2\n"
    with Hub({}, datasets={"acme/arith": files}) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        assert [c.vars["expected"] for c in load(suite_file(tmp_path, text)).cases] == ["2", "4"]
        fetched = {r["path"] for r in hub.requests if r["method"] == "GET"}
    # only the card and the asked split travel; then the cache serves it with the hub gone
    assert not any("train" in p for p in fetched) and any("test-00000" in p for p in fetched)
    offline(monkeypatch, True)
    assert len(load(suite_file(tmp_path, text)).cases) == 2


def test_unreachable_hub_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from peers import free_port

    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    offline(monkeypatch, False)
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{free_port()}")  # nobody listens there
    with pytest.raises(SuiteError) as exc:
        load(suite_file(tmp_path, "  from: hf://datasets/acme/arith\n  split: test\n"))
    assert "not in the local Hugging Face cache" in str(exc.value) and "cannot be reached" in str(exc.value)


def test_a_dataset_with_too_many_columns_is_refused(tmp_path):
    """Probe 5: a 1.2 MB CSV of 200,000 columns hung `bakeoff run` (every column was looked up in
    a list of all columns: quadratic). Datasets have a few hundred columns at most."""
    n = 5000
    (tmp_path / "wide.csv").write_text(",".join(f"c{i}" for i in range(n)) + "\n" + ",".join("x" * n) + "\n")
    (tmp_path / "suite.yaml").write_text(
        "name: wide\nprompt: 'hi {{c1}}'\ncases:\n  from: wide.csv\n"
        "defaults:\n  assert: [{type: contains, value: hi}]\n")
    with pytest.raises(SuiteError, match="5,000 columns"):
        load(tmp_path / "suite.yaml")


def test_a_dataset_that_is_a_pipe_is_named_as_such(tmp_path):
    os.mkfifo(tmp_path / "rows.csv")
    (tmp_path / "suite.yaml").write_text("name: p\nprompt: 'q {{q}}'\ncases:\n  from: rows.csv\n")
    with pytest.raises(SuiteError, match="not a regular file"):
        load(tmp_path / "suite.yaml")
