"""Bradley–Terry ratings: hand-computed examples, interval ranks, Elo, and recovery of known
strengths from synthetic battles."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bakeoff.arena.ratings import compute, online_elo, ranks_from_intervals


def _by_model(table):
    return {r.model: r for r in table.ratings}


def test_two_models_three_to_one_gives_odds_three():
    # A beat B three times, B beat A once: MLE odds 3:1, i.e. 400*log10(3) = 190.85 points apart.
    outcomes = [("A", "B", "a")] * 3 + [("A", "B", "b")]
    r = _by_model(compute(outcomes, n_boot=0, prior=0.0))
    assert r["A"].rating == pytest.approx(1000 + 200 * math.log10(3), abs=1e-6)
    assert r["B"].rating == pytest.approx(1000 - 200 * math.log10(3), abs=1e-6)
    assert (r["A"].wins, r["A"].losses, r["A"].ties, r["A"].games) == (3, 1, 0, 4)


def test_tie_counts_half_a_win_for_each_side():
    # 2 wins, 1 loss, 1 tie -> 2.5 : 1.5 -> odds 5/3; the tie may sit on either side of the pair.
    outcomes = [("A", "B", "a"), ("B", "A", "b"), ("A", "B", "b"), ("B", "A", "tie")]
    r = _by_model(compute(outcomes, n_boot=0, prior=0.0))
    assert r["A"].rating - r["B"].rating == pytest.approx(400 * math.log10(5 / 3), abs=1e-6)
    assert r["A"].ties == 1 and r["B"].ties == 1


def test_three_models_consistent_data_recover_exact_strengths():
    # Strengths 4:2:1 and win counts that match them exactly (A-B 2:1, B-C 2:1, A-C 4:1):
    # the MLE equations (expected wins = observed wins) hold at p = (4, 2, 1).
    outcomes = ([("A", "B", "a")] * 2 + [("A", "B", "b")] + [("B", "C", "a")] * 2 + [("B", "C", "b")]
                + [("A", "C", "a")] * 4 + [("A", "C", "b")])
    r = _by_model(compute(outcomes, n_boot=0, prior=0.0))
    step = 400 * math.log10(2)  # 120.41 points per doubling
    assert r["A"].rating == pytest.approx(1000 + step, abs=1e-5)
    assert r["B"].rating == pytest.approx(1000, abs=1e-5)
    assert r["C"].rating == pytest.approx(1000 - step, abs=1e-5)


def test_prior_keeps_an_unbeaten_model_finite_and_ordered():
    r = _by_model(compute([("A", "B", "a")], n_boot=50, prior=1.0))
    # One win plus one virtual tie: 1.5 : 0.5 -> odds 3.
    assert r["A"].rating - r["B"].rating == pytest.approx(400 * math.log10(3), abs=1e-6)
    assert math.isfinite(r["A"].ci_high)


def test_online_elo_single_vote_by_hand():
    # Equal ratings: expected score 0.5, so the winner gains K/2 = 16.
    assert online_elo([("A", "B", "a")], k=32) == {"A": 1016.0, "B": 984.0}
    assert online_elo([("A", "B", "tie")], k=32) == {"A": 1000.0, "B": 1000.0}


def test_ranks_come_from_interval_overlap():
    low = np.array([1100.0, 1050.0, 900.0])
    high = np.array([1200.0, 1150.0, 1000.0])
    # The first two overlap (both rank 1); both lie entirely above the third (rank 3).
    assert ranks_from_intervals(low, high).tolist() == [1, 1, 3]


def test_recovers_known_ratings_from_synthetic_battles():
    true = {"w": 1150.0, "x": 1050.0, "y": 950.0, "z": 850.0}   # mean 1000
    names = list(true)
    rng = np.random.default_rng(7)
    outcomes = []
    for _ in range(3000):
        i, j = rng.choice(4, size=2, replace=False)
        a, b = names[i], names[j]
        p_a = 1 / (1 + 10 ** ((true[b] - true[a]) / 400))
        u = rng.random()
        # 10% ties; the decisive games are tilted so the expected score stays p_a:
        # 0.1 * 0.5 + 0.9 * q = p_a.
        q = (p_a - 0.05) / 0.9
        winner = "tie" if u < 0.1 else ("a" if rng.random() < q else "b")
        outcomes.append((a, b, winner))
    table = compute(outcomes, n_boot=100, prior=1.0, seed=1)
    r = _by_model(table)
    assert [x.model for x in table.ratings] == ["w", "x", "y", "z"]
    for m, want in true.items():
        assert r[m].rating == pytest.approx(want, abs=25), m
        assert r[m].ci_low < r[m].rating < r[m].ci_high
        assert r[m].ci_high - r[m].ci_low < 120   # 3000 votes pin each rating down
    assert [x.rank for x in table.ratings] == [1, 2, 3, 4]
    assert table.n_votes == 3000
