"""Speed summaries and the cost arithmetic (cost per 1M tokens = hourly cost / tokens per hour)."""

from __future__ import annotations

import pytest

from bakeoff.evals.metrics import mean_se, pass_rate
from bakeoff.evals.speed import WORKLOADS, build_prompt, costs, percentiles
from bakeoff.models.ref import ModelRef
from fake_engine import FakeEngine


def stat(median: float, p5: float, p95: float) -> dict:
    return {"median": median, "p5": p5, "p95": p95, "n": 3}


def test_cost_per_million_and_blended() -> None:
    speed = {"short": {"output_tps": stat(100, 80, 125)}, "long": {"prompt_tps": stat(1000, 900, 1200)}}
    c = costs(speed, hourly_cost=0.36)
    assert c["input"]["median"] == pytest.approx(0.1)          # 0.36 / (1000 * 3600) * 1e6
    assert c["output"]["median"] == pytest.approx(1.0)
    assert c["output"]["low"] == pytest.approx(0.8) and c["output"]["high"] == pytest.approx(1.25)
    assert c["blended"]["median"] == pytest.approx((3 * 0.1 + 1.0) / 4)
    assert costs({"short": {"output_tps": stat(100, 80, 125)}}, 0.36)["blended"] is None


def test_percentiles_and_standard_errors() -> None:
    p = percentiles([1.0, 2.0, 3.0, 4.0, 100.0])
    assert (p["median"], p["n"]) == (3.0, 5) and p["p5"] == pytest.approx(1.2) and p["p95"] > 50
    assert pass_rate(["pass", "fail", "pass", "error"]) == {"value": 0.5, "se": 0.25, "n": 4}
    m = mean_se([0.0, 1.0])
    assert m["value"] == 0.5 and m["se"] == pytest.approx(0.5)


def test_workload_prompts_hit_their_token_target_and_differ_per_repeat() -> None:
    engine = FakeEngine(ModelRef(name="fake", engine="fake", source="test"))
    for work in WORKLOADS:
        a, b = build_prompt(engine, work, 1), build_prompt(engine, work, 2)
        assert abs(len(engine.tokenize(a)) - work.prompt_tokens) <= work.prompt_tokens * 0.1
        assert a.split()[:2] != b.split()[:2]  # a new first line defeats the prompt cache
