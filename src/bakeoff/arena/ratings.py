"""Ratings from pairwise votes: Bradley–Terry maximum likelihood with bootstrap 95% intervals and
ranks derived from the intervals (as Chatbot Arena does), plus an online Elo for a live view.

Model: P(i beats j) = p_i / (p_i + p_j). A tie (and "both bad") counts as half a win for each side.
Ratings are reported on the Elo scale: 1000 + 400·log10(p_i), centred so the mean rating is 1000;
a 400-point gap means 10:1 odds.

`prior` adds that many virtual tied games between every pair of models. It keeps the estimate finite
when a model has only wins or only losses (the pure MLE would diverge) and shrinks ratings built on
a handful of votes toward the mean; with hundreds of votes its effect is negligible.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass

import numpy as np

SCORES = {"a": 1.0, "b": 0.0, "tie": 0.5, "both_bad": 0.5}
SCALE = 400.0 / np.log(10.0)   # natural-log strength -> Elo points
BASE = 1000.0


@dataclass
class Rating:
    model: str
    rating: float        # Bradley–Terry MLE on the Elo scale
    ci_low: float        # bootstrap 2.5th percentile
    ci_high: float       # bootstrap 97.5th percentile
    rank: int            # 1 + number of models whose interval lies entirely above this one
    elo: float           # online Elo after all votes in order (K-factor in RatingTable.k)
    games: int
    wins: int
    losses: int
    ties: int

    def to_dict(self) -> dict:
        return {k: (round(v, 1) if isinstance(v, float) else v) for k, v in asdict(self).items()}


@dataclass
class RatingTable:
    ratings: list[Rating]
    n_votes: int
    n_boot: int
    prior: float
    k: float
    seed: int

    def to_dict(self) -> dict:
        return {"ratings": [r.to_dict() for r in self.ratings], "n_votes": self.n_votes,
                "n_boot": self.n_boot, "prior": self.prior, "elo_k": self.k, "seed": self.seed,
                "method": "Bradley-Terry MLE, tie = half win, bootstrap 95% interval"}


Outcome = tuple[str, str, str]   # (model_a, model_b, winner in SCORES)


def _encode(outcomes: list[Outcome], models: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    index = {m: i for i, m in enumerate(models)}
    a = np.array([index[o[0]] for o in outcomes], dtype=np.int64)
    b = np.array([index[o[1]] for o in outcomes], dtype=np.int64)
    s = np.array([SCORES[o[2]] for o in outcomes], dtype=np.float64)
    return a, b, s


def win_matrix(a: np.ndarray, b: np.ndarray, s: np.ndarray, n: int, weights: np.ndarray | None = None,
               prior: float = 0.0) -> np.ndarray:
    """W[i, j] = (weighted) wins of i over j, ties split in half, plus prior/2 per ordered pair."""
    w = np.ones_like(s) if weights is None else weights
    wins = np.full((n, n), prior / 2.0)
    np.fill_diagonal(wins, 0.0)
    np.add.at(wins, (a, b), w * s)
    np.add.at(wins, (b, a), w * (1.0 - s))
    return wins


def bt_mle(wins: np.ndarray, tol: float = 1e-10, max_iter: int = 10_000) -> np.ndarray:
    """Log-strengths (mean 0) maximising the Bradley–Terry likelihood, by Hunter's (2004) MM
    iteration p_i <- W_i / sum_j N_ij / (p_i + p_j). Needs every model to have a win and a loss in
    a connected comparison graph (a positive prior guarantees it)."""
    n = wins.shape[0]
    games = wins + wins.T
    total_wins = wins.sum(axis=1)
    p = np.ones(n)
    for _ in range(max_iter):
        denom = (games / (p[:, None] + p[None, :])).sum(axis=1)
        new = np.where(denom > 0, total_wins / np.where(denom > 0, denom, 1.0), p)
        new = np.clip(new, 1e-300, None)
        new /= np.exp(np.log(new).mean())  # fix the scale: geometric mean 1
        done = np.max(np.abs(np.log(new) - np.log(p))) < tol
        p = new
        if done:
            break
    return np.log(p)


def to_elo_scale(log_strength: np.ndarray) -> np.ndarray:
    return BASE + SCALE * (log_strength - log_strength.mean())


def online_elo(outcomes: Iterable[Outcome], k: float = 32.0) -> dict[str, float]:
    """Classic sequential Elo (order matters), for the live view; BT is the reported rating."""
    r: dict[str, float] = {}
    for ma, mb, winner in outcomes:
        ra, rb = r.get(ma, BASE), r.get(mb, BASE)
        expect_a = 1.0 / (1.0 + 10 ** ((rb - ra) / 400.0))
        delta = k * (SCORES[winner] - expect_a)
        r[ma], r[mb] = ra + delta, rb - delta
    return r


def ranks_from_intervals(low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Rank = 1 + how many models are surely better (their lower bound above this upper bound)."""
    return 1 + (low[None, :] > high[:, None]).sum(axis=1)


def _tallies(outcomes: list[Outcome], model: str) -> tuple[int, int, int]:
    wins = losses = ties = 0
    for ma, mb, w in outcomes:
        if model not in (ma, mb):
            continue
        s = SCORES[w] if model == ma else 1.0 - SCORES[w]
        wins += s == 1.0
        losses += s == 0.0
        ties += s == 0.5
    return wins, losses, ties


def compute(outcomes: list[Outcome], n_boot: int = 200, prior: float = 1.0, k: float = 32.0,
            seed: int = 0) -> RatingTable:
    """Ratings for every model that appears in outcomes, best first."""
    models = sorted({m for o in outcomes for m in o[:2]})
    if not models:
        return RatingTable([], 0, n_boot, prior, k, seed)
    a, b, s = _encode(outcomes, models)
    n = len(models)
    point = to_elo_scale(bt_mle(win_matrix(a, b, s, n, prior=prior)))
    rng = np.random.default_rng(seed)
    boots = np.empty((n_boot, n))
    for t in range(n_boot):
        weights = np.bincount(rng.integers(0, len(s), len(s)), minlength=len(s)).astype(float)
        boots[t] = to_elo_scale(bt_mle(win_matrix(a, b, s, n, weights, prior)))
    low, high = np.percentile(boots, [2.5, 97.5], axis=0) if n_boot else (point, point)
    ranks = ranks_from_intervals(low, high)
    elo = online_elo(outcomes, k)
    rows = []
    for i, m in enumerate(models):
        wins, losses, ties = _tallies(outcomes, m)
        rows.append(Rating(m, float(point[i]), float(low[i]), float(high[i]), int(ranks[i]),
                           float(elo.get(m, BASE)), wins + losses + ties, wins, losses, ties))
    rows.sort(key=lambda r: (-r.rating, r.model))
    return RatingTable(rows, len(outcomes), n_boot, prior, k, seed)
