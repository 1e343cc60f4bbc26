"""Engine log-likelihood on SmolLM2-135M against a token-by-token reference, and benchmark runs
through the real store: pinned HellaSwag result, resume after an interruption, the CLI table."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bakeoff.engines import GenParams, LoadOptions, LogLikRequest, collect, open_engine
from bakeoff.models.ref import ModelRef

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def engine(smollm2_path):
    ref = ModelRef(name="SmolLM2-135M-Instruct-Q4_1", engine="llamacpp", source="packaged",
                   path=str(smollm2_path), aliases=["smollm2-135m"])
    from bakeoff.evals.bench.runner import BENCH_BATCH, BENCH_SEQS

    # One thread: results are the same for any thread count (each output is computed by one
    # thread), and on a busy shared machine two spinning threads can be ten times slower.
    eng = open_engine(ref, LoadOptions(n_ctx=2048, sequences=BENCH_SEQS, n_batch=BENCH_BATCH, threads=1))
    yield eng
    eng.close()


def reference(engine, request: LogLikRequest) -> tuple[float, bool]:
    """The straightforward way: a fresh cache, one token per decode, logits at every position."""
    pair = engine.loglik_pairs([request])[0]
    h, whole = engine.h, pair.whole
    h.clear()
    engine._cached = []
    total, greedy = 0.0, True
    for j in range(len(whole) - 1):
        h.decode([whole[j]], [j], [0], [True])
        if j >= len(pair.context) - 1:
            logits = h.logits(0).astype(np.float64)
            lse = logits.max() + np.log(np.exp(logits - logits.max()).sum())
            total += logits[whole[j + 1]] - lse
            greedy &= int(logits.argmax()) == whole[j + 1]
    h.clear()
    return total, greedy


REQUESTS = [
    # one item: shared context, four choices decoded as parallel sequences
    *[LogLikRequest("Roof shingle removal: A man is sitting on a roof. He", c) for c in
      (" is using wrap to wrap a pair of skis.", " is ripping level tiles off.",
       " is holding a rubik's cube.", " starts pulling up roofing on a roof.")],
    # trailing whitespace in the context moves to the continuation
    LogLikRequest("Question: What is the capital of France?\nAnswer: ", "Paris"),
    # partial scoring: contexts differ, continuation shared
    LogLikRequest("The trophy did not fit in the suitcase because the trophy", " was too big."),
    LogLikRequest("The trophy did not fit in the suitcase because the suitcase", " was too big."),
]


def test_loglikelihood_matches_token_by_token_reference(engine):
    got = engine.loglikelihood(REQUESTS)
    for req, ll in zip(REQUESTS, got):
        ref_lp, ref_greedy = reference(engine, req)
        assert ll.logprob == pytest.approx(ref_lp, abs=1e-3), req
        assert ll.is_greedy == ref_greedy
        assert ll.n_tokens == len(engine.loglik_pairs([req])[0].continuation)
    # more choices than sequences: scored in groups, same numbers
    again = engine.loglikelihood(REQUESTS * 2)
    assert [r.logprob for r in again[:len(REQUESTS)]] == pytest.approx([r.logprob for r in got], abs=1e-3)


def test_greedy_continuation_is_flagged_greedy(engine):
    prompt = "The capital of France is"
    # two tokens (" Paris", "."): longer greedy text may re-tokenize differently ("\n" "\n" -> "\n\n")
    params = GenParams(temperature=0, max_tokens=2)
    text = collect(engine.complete(prompt, params)).text
    greedy, other = engine.loglikelihood([LogLikRequest(prompt, text), LogLikRequest(prompt, " a banana")])
    assert greedy.is_greedy and not other.is_greedy
    assert greedy.logprob > other.logprob


def test_generation_after_scoring_sees_a_consistent_cache(engine):
    prompt = "Question: Which planet is known as the red planet?\nAnswer:"
    params = GenParams(temperature=0, max_tokens=8)
    before = collect(engine.complete(prompt, params)).text
    engine.loglikelihood([LogLikRequest(prompt, " Mars"), LogLikRequest(prompt, " Venus")])
    after = collect(engine.complete(prompt, params))
    assert after.text == before
    # Scoring reads contexts in its own chunks, so generation reuses none of them: reusing them
    # could change answers (llama_lowlevel.GRID).
    assert after.timings.cached_prompt_tokens == 0


# SmolLM2-135M-Instruct Q4_1 on the first 20 HellaSwag validation items, 0-shot, lm-evaluation-harness
# prompt format: how many it gets right (pinned from a run of this code; the same with 32- and
# 512-token batches).
HELLASWAG_20_ACC_NORM = 6
HELLASWAG_20_ACC = 6


def test_hellaswag_20_items_pinned(engine):
    from bakeoff.evals.bench import run_benchmark

    result = run_benchmark("hellaswag", "smollm2-135m", limit=20, engine=engine)
    assert result.n == 20 and result.computed == 20
    assert round(result.scores["acc_norm"].value * 20) == HELLASWAG_20_ACC_NORM
    assert round(result.scores["acc"].value * 20) == HELLASWAG_20_ACC
    assert result.scores["acc_norm"].stderr == pytest.approx(
        np.std([r["acc_norm"] for r in result.items], ddof=1) / np.sqrt(20))


def test_interrupted_run_resumes_and_cli_reuses_the_store(engine):
    from bakeoff.cli.main import main
    from bakeoff.evals.bench import run_benchmark

    def stop_after_3(done: int, total: int) -> None:
        if done == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_benchmark("copa", "smollm2-135m", limit=6, engine=engine, progress=stop_after_3)
    resumed = run_benchmark("copa", "smollm2-135m", limit=6, engine=engine)
    assert resumed.computed == 3 and resumed.n == 6
    # the CLI finds every item in the store: nothing new computed, same scores
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["bench", "copa", "--models", "smollm2-135m", "--limit", "6", "--json"]) == 0
    (row,) = json.loads(out.getvalue())
    assert row["cached"] == 6 and row["computed"] == 0 and row["n"] == 6
    assert row["scores"]["acc"]["value"] == pytest.approx(resumed.scores["acc"].value)
    assert row["scores"]["acc"]["stderr"] > 0
