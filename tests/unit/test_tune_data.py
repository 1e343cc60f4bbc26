"""Training data for `bakeoff tune`: every accepted format, every refusal names file, line, field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bakeoff.errors import DivergedError, SuiteError
from bakeoff.evals.stats import mcnemar_exact
from bakeoff.tune.data import load_dataset, read_examples, split
from bakeoff.tune.train import TrainState, check_loss


def _jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def chat(q: str, a: str, system: str | None = None) -> dict:
    msgs = ([{"role": "system", "content": system}] if system else []) + [
        {"role": "user", "content": q}, {"role": "assistant", "content": a}]
    return {"messages": msgs}


def test_openai_messages_jsonl(tmp_path):
    rows = [chat("2+2?", "4", system="Be terse."),
            {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello", "weight": 0},
                          {"role": "user", "content": "bye"}, {"role": "assistant", "content": "ciao"}]}]
    examples, _ = read_examples(_jsonl(tmp_path / "d.jsonl", rows))
    assert [e.target for e in examples] == ["4", "ciao"]
    assert [m.role for m in examples[0].prompt_messages] == ["system", "user"]
    learned = [t.content for t in examples[1].turns if t.learn]
    assert learned == ["ciao"]  # weight 0 is context, as in OpenAI's format
    assert examples[1].source.endswith("d.jsonl:2")


def test_prompt_completion_jsonl_and_csv(tmp_path):
    jsonl = _jsonl(tmp_path / "pc.jsonl", [{"prompt": "Capital of Peru?", "completion": "Lima", "system": "Short."}])
    (ex,), _ = read_examples(jsonl)
    assert ex.target == "Lima" and ex.prompt_messages[0].content == "Short."
    csv_file = tmp_path / "d.csv"
    csv_file.write_text('prompt,completion\n"Say ""hi""",hi\nCapital of Chile?,Santiago\n')
    examples, _ = read_examples(csv_file)
    assert [e.target for e in examples] == ["hi", "Santiago"]
    assert examples[0].prompt_messages[-1].content == 'Say "hi"'


def test_suite_with_expected_answers(tmp_path):
    suite = tmp_path / "s.yaml"
    suite.write_text("system: Answer with one word.\nprompt: '{{q}}'\ncases:\n"
                     "  - id: a\n    vars: {q: 'Capital of Italy?'}\n    assert: [{type: equals, value: Rome}]\n"
                     "  - id: b\n    vars: {q: 'Capital of Spain?'}\n    assert: [{type: equals, value: Madrid}]\n")
    examples, _ = read_examples(suite)
    assert [(e.prompt_messages[-1].content, e.target) for e in examples] == [
        ("Capital of Italy?", "Rome"), ("Capital of Spain?", "Madrid")]
    assert examples[0].prompt_messages[0].content == "Answer with one word."


@pytest.mark.parametrize("row, line, field, words", [
    ('{"messages": [{"role": "user", "content": "x"}', 2, None, "invalid JSON"),
    ({"messages": [{"role": "robot", "content": "x"}]}, 2, "messages[0].role", "unknown role"),
    ({"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": 3}]}, 2,
     "messages[1].content", "non-empty string"),
    ({"messages": [{"role": "user", "content": "only a question"}]}, 2, "messages", "no assistant"),
    ({"prompt": "x"}, 2, "completion", "non-empty string"),
    ({"question": "x", "answer": "y"}, 2, None, "neither `messages` nor"),
])
def test_malformed_jsonl_names_file_line_field(tmp_path, row, line, field, words):
    path = _jsonl(tmp_path / "bad.jsonl", [chat("fine", "ok"), row])
    with pytest.raises(SuiteError) as info:
        read_examples(path)
    err = info.value
    assert (err.file, err.line, err.field) == (str(path), line, field)
    assert words in err.message


def test_malformed_csv_and_suite(tmp_path):
    csv_file = tmp_path / "d.csv"
    csv_file.write_text("question,answer\nx,y\n")
    with pytest.raises(SuiteError, match="lacks column") as info:
        read_examples(csv_file)
    assert info.value.field == "prompt"
    suite = tmp_path / "s.yaml"
    suite.write_text("prompt: '{{q}}'\ncases:\n  - id: a\n    vars: {q: hi}\n"
                     "    assert: [{type: icontains, value: hello}]\n")
    with pytest.raises(SuiteError, match="no expected answer") as info:
        read_examples(suite)
    assert info.value.field == "a.assert"
    with pytest.raises(SuiteError, match="unsupported data file type"):
        (tmp_path / "x.parquet").write_bytes(b"PAR1")
        read_examples(tmp_path / "x.parquet")


def test_leaking_eval_file_is_refused(tmp_path):
    train = _jsonl(tmp_path / "train.jsonl", [chat("Capital of Peru?", "Lima"), chat("2+2?", "4")])
    held = _jsonl(tmp_path / "eval.jsonl", [chat("  capital of PERU? ", "Lima."), chat("3+3?", "6")])
    with pytest.raises(SuiteError, match="1 held-out prompt") as info:
        load_dataset(train, held)
    assert "eval.jsonl:1" in str(info.value) and "train.jsonl:1" in str(info.value)


def test_seeded_split_is_reproducible_and_keeps_duplicates_together(tmp_path):
    rows = [chat(f"q{i}", f"a{i}") for i in range(20)] + [chat("q3", "another answer")]
    examples, _ = read_examples(_jsonl(tmp_path / "d.jsonl", rows))
    a_train, a_eval = split(examples, 0.25, seed=1)
    b_train, b_eval = split(examples, 0.25, seed=1)
    assert [e.source for e in a_eval] == [e.source for e in b_eval]
    assert len(a_eval) in (5, 6)  # 5 of 20 distinct prompts, one of which may have two rows
    assert not {e.prompt_key for e in a_train} & {e.prompt_key for e in a_eval}
    c_train, c_eval = split(examples, 0.25, seed=2)
    assert [e.source for e in c_eval] != [e.source for e in a_eval]
    ds = load_dataset(tmp_path / "d.jsonl", eval_fraction=0.25, seed=1)
    assert len(ds.train) + len(ds.eval) == 21 and len(ds.sha256) == 64


def test_mcnemar_exact_matches_binomial_test():
    assert mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(10, 0) == pytest.approx(2 / 2 ** 10)
    assert mcnemar_exact(3, 3) == 1.0
    # scipy.stats.binomtest(2, 12, 0.5).pvalue == 0.03857421875
    assert mcnemar_exact(10, 2) == pytest.approx(0.03857421875)
    assert mcnemar_exact(2, 10) == mcnemar_exact(10, 2)


def test_nan_and_diverging_loss_stop_training():
    with pytest.raises(DivergedError, match="not a number"):
        check_loss(TrainState(step=4, losses=[2.0] * 4), float("nan"))
    rising = TrainState(step=19, losses=[1.0] * 10 + [5.0] * 9)
    with pytest.raises(DivergedError, match="grew from 1 to 5"):
        check_loss(rising, 5.0)
    check_loss(TrainState(step=19, losses=[2.0] * 10 + [0.5] * 9), 0.4)  # falling loss is fine


def test_csv_cells_keep_their_line_breaks(tmp_path):
    csv_file = tmp_path / "d.csv"
    csv_file.write_text('prompt,completion\n"Write a haiku\nabout rain",' + '"Soft rain\non the roof"\n')
    (ex,), _ = read_examples(csv_file)
    assert ex.prompt_messages[-1].content == "Write a haiku\nabout rain" and ex.target == "Soft rain\non the roof"


def test_multi_turn_held_out_case_asks_the_whole_conversation(tmp_path):
    """The held-out suite keeps the earlier turns: the case asks exactly what training taught
    (system, earlier exchanges, then the last question), not the last question alone."""
    from bakeoff.evals.suite import load_suite
    from bakeoff.tune.compare import write_suite

    conversation = {"messages": [
        {"role": "system", "content": "Answer in one word."},
        {"role": "user", "content": "My name is Ann."}, {"role": "assistant", "content": "Noted.", "weight": 0},
        {"role": "user", "content": "What is my name?"}, {"role": "assistant", "content": "Ann"}]}
    data = load_dataset(_jsonl(tmp_path / "t.jsonl", [chat("a", "b")]),
                        _jsonl(tmp_path / "e.jsonl", [conversation, chat("2+2?", "4")]))
    case, single = load_suite(write_suite(data.eval, tmp_path, "m", 16)).cases
    assert [(m.role, m.content) for m in case.messages()] == [
        ("system", "Answer in one word."), ("user", "My name is Ann."), ("assistant", "Noted."),
        ("user", "What is my name?")]
    assert case.asserts[0]["value"] == "Ann"
    assert [(m.role, m.content) for m in single.messages()] == [("user", "2+2?")]


def test_held_out_conversation_must_end_with_a_question(tmp_path):
    odd = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "x", "weight": 0},
                        {"role": "assistant", "content": "y"}]}
    with pytest.raises(SuiteError) as err:
        load_dataset(_jsonl(tmp_path / "t.jsonl", [chat("a", "b")]), _jsonl(tmp_path / "e.jsonl", [odd]))
    assert "e.jsonl:1" in str(err.value) and "user message" in str(err.value)
