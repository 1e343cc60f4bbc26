"""The speculative rejection rule keeps the target's distribution; wrong rules are caught.

Each test draws many seeded samples and runs a chi-square test at a fixed alpha. The sample sizes
are chosen so that the deliberately wrong rules below (a real mistake each: keeping every draft,
or redrawing from p instead of max(0, p - q) after a rejection) fail by a wide margin, while the
right rule passes; every draw is seeded, so the outcome never changes from run to run.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np
import pytest
from scipy.stats import chisquare

from bakeoff.engines import speculative
from bakeoff.engines.sampling import draw, judge, residual, softmax_into
from bakeoff.engines.speculative import Speculator

ALPHA = 1e-3
P = np.array([0.40, 0.25, 0.15, 0.10, 0.07, 0.03])
Q = np.array([0.10, 0.45, 0.05, 0.30, 0.05, 0.05])


def keep_every_draft(p, token, q, rng):   # wrong: the output follows q, not p
    return token, True


def redraw_from_p(p, token, q, rng):      # wrong: a rejected token is drawn again from p
    qx = 1.0 if q is None else q[token]
    if rng.random() * qx < p[token]:
        return token, True
    return draw(p, rng), False


def gof_pvalue(samples: Sequence[int], p: np.ndarray) -> float:
    counts = np.bincount(samples, minlength=len(p))
    return float(chisquare(counts, p * len(samples)).pvalue)


def one_position(rule, q: np.ndarray | None, n: int = 20000, seed: int = 0) -> list[int]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        proposal = draw(q, rng) if q is not None else 0
        out.append(rule(P, proposal, q, rng)[0])
    return out


@pytest.mark.parametrize("q", [Q, None], ids=["draft-model", "prompt-lookup"])
def test_rejection_rule_output_follows_the_target_distribution(q):
    assert gof_pvalue(one_position(judge, q), P) > ALPHA


@pytest.mark.parametrize("wrong", [keep_every_draft, redraw_from_p])
@pytest.mark.parametrize("q", [Q, None], ids=["draft-model", "prompt-lookup"])
def test_a_wrong_rule_is_caught(wrong, q):
    assert gof_pvalue(one_position(wrong, q), P) < ALPHA


def test_residual_is_what_p_has_beyond_q():
    assert np.allclose(residual(P, 1, Q), np.maximum(P - Q, 0))
    r = residual(P, 0, None)
    assert r[0] == 0 and np.allclose(r[1:], P[1:])
    assert np.allclose(residual(P, 0, P), P)          # p == q: never rejected, p stands in


def test_softmax_into_places_the_kept_candidates():
    p = softmax_into(6, np.array([4, 1]), np.array([0.0, np.log(3.0)], np.float32))
    assert np.allclose(p, [0, 0.75, 0, 0, 0.25, 0])


# --- several positions through Speculator.step_sampled, against a fake model ---------------------
# The "model" is a Markov chain: the next-token distribution depends on the last token only.
V = 4
CHAIN = np.array([[0.50, 0.30, 0.15, 0.05],
                  [0.10, 0.20, 0.30, 0.40],
                  [0.25, 0.25, 0.25, 0.25],
                  [0.05, 0.05, 0.10, 0.80]])
DRAFT_CHAIN = np.array([[0.20, 0.60, 0.10, 0.10],
                        [0.30, 0.10, 0.30, 0.30],
                        [0.10, 0.10, 0.70, 0.10],
                        [0.40, 0.20, 0.20, 0.20]])
N_OUT = 3


class MarkovModel:
    def __init__(self):
        self.outputs: list[int] = []
        self.removed: list[int] = []

    def decode(self, tokens, positions, seq_ids, want_logits):
        self.outputs = list(tokens)     # output i predicts from token i

    def seq_rm(self, seq_id, p0=-1, p1=-1):
        self.removed.append(p0)
        return True


class MarkovSeq:
    def __init__(self, model: MarkovModel, rng: np.random.Generator):
        self.model, self.rng, self.out = model, rng, []

    def probs(self, i: int) -> np.ndarray:
        return CHAIN[self.model.outputs[i]]

    def commit(self, i: int, token: int) -> bool:
        self.out.append(token)
        return len(self.out) >= N_OUT


class MarkovDrafter:
    """Drafts 2 tokens from DRAFT_CHAIN (q), or a fixed guess of 3s (one-hot q) when `onehot`."""

    def __init__(self, rng: np.random.Generator, onehot: bool):
        self.rng, self.onehot, self.history, self.q = rng, onehot, [], None

    def extend(self, tokens):
        self.history.extend(tokens)

    def draft(self, cap: int = 31) -> list[int]:
        if self.onehot:
            self.q = None
            return [3, 3][:cap]
        last, toks, self.q = self.history[-1], [], []
        for _ in range(min(2, cap)):
            q = DRAFT_CHAIN[last]
            last = draw(q, self.rng)
            toks.append(last)
            self.q.append(q)
        return toks

    def feedback(self, drafted, accepted):
        pass


def markov_run(seed: int, onehot: bool) -> tuple[int, ...]:
    rng = np.random.default_rng(seed)
    model = MarkovModel()
    seq = MarkovSeq(model, rng)
    spec = Speculator(MarkovDrafter(rng, onehot))
    model.outputs = [0]                      # the prompt ends in token 0
    first = draw(CHAIN[0], rng)
    seq.commit(-1, first)
    pending, pos = first, 1
    while pending is not None:
        kept, pending = spec.step_sampled(model, 0, pos, pending, seq, N_OUT - len(seq.out))
        pos += len(kept)
    return tuple(seq.out)


def exact_joint() -> dict[tuple[int, ...], float]:
    out = {}
    for a in range(V):
        for b in range(V):
            for c in range(V):
                out[(a, b, c)] = CHAIN[0, a] * CHAIN[a, b] * CHAIN[b, c]
    return out


def joint_pvalue(samples: list[tuple[int, ...]]) -> float:
    """Chi-square goodness of fit; cells expected fewer than 5 times are pooled into one."""
    exact = exact_joint()
    counts = Counter(samples)
    n = len(samples)
    big = [k for k in exact if exact[k] * n >= 5]
    small = [k for k in exact if exact[k] * n < 5]
    observed = [counts[k] for k in big] + [sum(counts[k] for k in small)]
    expected = [exact[k] * n for k in big] + [sum(exact[k] for k in small) * n]
    return float(chisquare(observed, expected).pvalue)


@pytest.mark.parametrize("onehot", [False, True], ids=["draft-model", "prompt-lookup"])
def test_several_positions_keep_the_joint_distribution(onehot):
    samples = [markov_run(s, onehot) for s in range(6000)]
    assert joint_pvalue(samples) > ALPHA


@pytest.mark.parametrize("onehot", [False, True], ids=["draft-model", "prompt-lookup"])
def test_a_wrong_rule_inside_the_speculator_is_caught(monkeypatch, onehot):
    monkeypatch.setattr(speculative, "judge", redraw_from_p)
    samples = [markov_run(s, onehot) for s in range(6000)]
    assert joint_pvalue(samples) < ALPHA
