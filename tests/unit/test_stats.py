"""Paired statistics checked against scipy and statsmodels on the same inputs."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.multitest import multipletests

from bakeoff.evals import stats


@pytest.mark.parametrize("b,c", [(16, 7), (0, 0), (0, 5), (3, 3), (10, 1), (40, 25), (120, 90)])
def test_exact_mcnemar_matches_statsmodels_and_scipy(b: int, c: int) -> None:
    ours = stats.mcnemar_exact(b, c)
    table = [[5, b], [c, 9]]   # concordant cells do not enter the exact test
    assert ours == pytest.approx(mcnemar(table, exact=True).pvalue, rel=1e-12, abs=1e-15)
    if b + c:
        assert ours == pytest.approx(sps.binomtest(b, b + c, 0.5).pvalue, rel=1e-9)


def test_the_starter_runs_difference_is_not_yet_a_finding() -> None:
    """SmolLM2 54% vs Gemma 36% on 50 cases: 16 vs 7 discordant, p = 0.093."""
    assert stats.mcnemar_exact(16, 7) == pytest.approx(0.0931, abs=5e-4)
    a = [(True, 1.0)] * 16 + [(False, 0.0)] * 7 + [(True, 1.0)] * 11 + [(False, 0.0)] * 16
    b = [(False, 0.0)] * 16 + [(True, 1.0)] * 7 + [(True, 1.0)] * 11 + [(False, 0.0)] * 16
    pair = stats.compare("SmolLM2", "Gemma", a, b)
    assert (pair.a_only, pair.b_only, pair.ties, pair.n) == (16, 7, 27, 50)
    assert pair.better is None and pair.pass_diff == pytest.approx(-0.18)
    text = stats.verdict(pair)
    assert text.startswith("no detectable difference (p = 0.093)")
    assert f"about {pair.more_cases} more cases would detect a 10-point difference" in text
    assert 250 < pair.more_cases < 400  # 23/50 discordant: ~360 cases in all for 10 points


@pytest.mark.parametrize("pvals", [[0.01, 0.04, 0.03, 0.2], [0.001], [0.5, 0.5, 0.01], [0.04, 0.04]])
def test_holm_matches_statsmodels(pvals: list[float]) -> None:
    expected = multipletests(pvals, method="holm")[1]
    assert stats.holm(pvals) == pytest.approx(list(expected), rel=1e-12)


def test_paired_bootstrap_interval_agrees_with_scipy() -> None:
    rng = np.random.default_rng(7)
    a = rng.uniform(0, 1, 60)
    b = np.clip(a + rng.normal(0.08, 0.2, 60), 0, 1)
    diffs = b - a
    ours = stats.paired_bootstrap_ci(diffs)
    ref = sps.bootstrap((diffs,), np.mean, n_resamples=stats.BOOTSTRAP_RESAMPLES,
                        method="percentile", random_state=1).confidence_interval
    se = diffs.std(ddof=1) / np.sqrt(len(diffs))
    # Different random draws: the ends agree to a small share of the standard error.
    assert ours[0] == pytest.approx(ref.low, abs=0.1 * se)
    assert ours[1] == pytest.approx(ref.high, abs=0.1 * se)
    assert ours == stats.paired_bootstrap_ci(diffs)  # seeded: the same inputs, the same interval
    assert ours[0] < diffs.mean() < ours[1]


def test_cases_needed_gives_the_power_it_promises() -> None:
    """Connor's approximation, checked with the exact power of the exact test at that size."""
    p_a, p_b = 0.10, 0.25       # 35% discordant, a 15-point difference
    n = stats.cases_needed(p_a + p_b, p_b - p_a)
    assert stats.mcnemar_power(n, p_a, p_b) == pytest.approx(stats.POWER, abs=0.05)
    assert stats.mcnemar_power(n // 2, p_a, p_b) < 0.6
    # scipy's binomial test gives the same rejection region as ours: spot-check one size exactly.
    d = 40
    region = [b for b in range(d + 1) if sps.binomtest(b, d, 0.5).pvalue <= stats.ALPHA]
    assert region == [b for b in range(d + 1) if stats.mcnemar_exact(b, d - b) <= stats.ALPHA]


def test_holm_ranks_like_the_arena() -> None:
    win = [(True, 1.0)] * 30 + [(False, 0.0)] * 10
    lose = [(False, 0.0)] * 30 + [(False, 0.0)] * 10
    pairs = stats.with_holm([stats.compare("A", "B", win, win), stats.compare("A", "C", win, lose),
                             stats.compare("B", "C", win, lose)])
    assert [p.better for p in pairs] == [None, "A", "B"]
    assert stats.arena_ranks(["A", "B", "C"], pairs) == {"A": 1, "B": 1, "C": 3}
    assert pairs[1].p_adjusted == pytest.approx(3 * pairs[1].p_value)  # the smallest of 3 p-values
    assert stats.verdict(pairs[1]).startswith("A is better, p < 0.001 Holm-adjusted")
