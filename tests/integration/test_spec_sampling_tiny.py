"""Sampled answers keep their distribution under speculation, measured on a tiny model.

A tiny random llama (F32) is the target; its own Q4_0 quantization (smaller, same tokenizer) is
the draft. For many seeds, the first tokens sampled with plain decoding, with the draft model and
with one-hot proposals (prompt lookup's kind) are tallied, and a chi-square test of homogeneity
(alpha fixed at 0.001) must not tell the samples apart. Every draw is seeded, so the outcome is the
same on every run. Run with a wrong rule (every proposal kept), the same test must tell the samples
apart, which shows the sample is big enough; tests/unit/test_spec_sampling.py catches subtler ones.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import chi2_contingency

from bakeoff.engines import LoadOptions, draft, open_engine, speculative
from bakeoff.engines.base import GenParams, collect
from bakeoff.engines.quantize import quantize_file
from bakeoff.engines.speculative import PromptLookup
from bakeoff.settings import reset_settings
from tinygguf import write_tiny

ALPHA = 1e-3
N = 300
PROMPT = "one two three one two three one two three one two"


@pytest.fixture(scope="module")
def tiny_pair(smollm2_path: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("tiny-spec")
    target = write_tiny("llama", d / "tiny-llama-F32.gguf", smollm2_path, seed=3)
    small = d / "tiny-llama-Q4_0.gguf"
    quantize_file(target, "Q4_0", small, threads=2)
    return target, small


def tally(engine, n: int = N) -> tuple[Counter, int]:
    """Counts of the first tokens' text over n seeds, and the tokens drafted along the way."""
    counts: Counter = Counter()
    drafted = 0
    for seed in range(n):
        p = GenParams(temperature=0.5, top_k=3, top_p=1.0, min_p=0.0, seed=seed, max_tokens=3,
                      ignore_eos=True)
        r = collect(engine.complete(PROMPT, p))
        counts[r.text] += 1
        drafted += r.timings.draft_tokens
    return counts, drafted


def homogeneity_pvalue(a: Counter, b: Counter) -> float:
    """Chi-square test of homogeneity; answers seen fewer than 10 times in all are pooled."""
    keys = [k for k in set(a) | set(b) if a[k] + b[k] >= 10]
    rest = [k for k in set(a) | set(b) if a[k] + b[k] < 10]
    table = np.array([[a[k] for k in keys] + [sum(a[k] for k in rest)],
                      [b[k] for k in keys] + [sum(b[k] for k in rest)]])
    table = table[:, table.sum(axis=0) > 0]
    return float(chi2_contingency(table).pvalue)


@pytest.fixture(scope="module")
def plain_counts(tiny_pair):
    target, _ = tiny_pair
    engine = open_engine(str(target), LoadOptions(n_ctx=256, speculative=False))
    try:
        return tally(engine)[0]
    finally:
        engine.close()


def speculative_counts(options: LoadOptions, path: Path) -> tuple[Counter, int]:
    engine = open_engine(str(path), options)
    try:
        return tally(engine)
    finally:
        engine.close()


@pytest.fixture
def always_draft(monkeypatch):
    """Draft at every position, however unsure the draft is, so every step is verified."""
    monkeypatch.setattr(draft, "P_MIN", 0.0)


def test_draft_model_keeps_the_distribution(tiny_pair, plain_counts, always_draft):
    target, small = tiny_pair
    counts, drafted = speculative_counts(LoadOptions(n_ctx=256, draft=str(small)), target)
    assert drafted >= N   # every answer was drafted for and verified
    pvalue = homogeneity_pvalue(plain_counts, counts)
    assert pvalue > ALPHA, pvalue


def keep_every_draft(p, token, q, rng):   # a wrong rule: the output follows the proposals
    return token, True


@pytest.mark.parametrize("wrong", [False, True], ids=["rejection-rule", "wrong-rule"])
def test_one_hot_proposals_keep_the_distribution(tiny_pair, plain_counts, monkeypatch, wrong):
    """Prompt lookup's path (q one-hot on the proposal) through the real engine: proposals are
    forced at every step (the last token again), since a random model rarely repeats the prompt."""
    target, _ = tiny_pair
    monkeypatch.setenv("BAKEOFF_SPECULATIVE_SAMPLED", "1")
    reset_settings()
    monkeypatch.setattr(PromptLookup, "draft", lambda self, cap=31: self.history[-1:][:cap])
    if wrong:   # the same test, run on a wrong rule, must see the difference
        monkeypatch.setattr(speculative, "judge", keep_every_draft)
    counts, drafted = speculative_counts(LoadOptions(n_ctx=256, speculative=True), target)
    assert drafted >= N
    pvalue = homogeneity_pvalue(plain_counts, counts)
    assert (pvalue < ALPHA) if wrong else (pvalue > ALPHA), pvalue
