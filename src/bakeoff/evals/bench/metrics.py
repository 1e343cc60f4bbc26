"""Aggregation: the mean of per-item scores with its standard error, as lm-evaluation-harness
reports them (stderr = sample standard deviation / sqrt(n))."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass
class Score:
    value: float
    stderr: float
    n: int

    def to_dict(self) -> dict[str, float | int]:
        return {"value": self.value, "stderr": self.stderr, "n": self.n}


def mean_stderr(values: Sequence[float]) -> Score:
    n = len(values)
    if n == 0:
        return Score(float("nan"), float("nan"), 0)
    mean = sum(values) / n
    if n < 2:
        return Score(mean, float("nan"), n)
    var = sum((v - mean) ** 2 for v in values) / (n - 1)
    return Score(mean, math.sqrt(var / n), n)


def mc_correct(lls: Sequence[float], choice_lengths: Sequence[int], gold: int) -> dict[str, int]:
    """acc: the most likely choice is gold. acc_norm: the same after dividing each log-likelihood by
    its choice's length in characters (lm-evaluation-harness's length normalisation)."""
    import numpy as np  # not for `bakeoff --help`: only scoring needs it

    ll = np.asarray(lls, dtype=np.float64)
    lengths = np.asarray([max(n, 1) for n in choice_lengths], dtype=np.float64)
    return {"acc": int(int(np.argmax(ll)) == gold),
            "acc_norm": int(int(np.argmax(ll / lengths)) == gold)}
