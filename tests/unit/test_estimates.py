"""The one formatter for measured numbers: every form a surface shows, from the dicts the store keeps."""

from __future__ import annotations

import math

from bakeoff.estimates import MISSING, Estimate, Style, human_bytes, show, show_stat
from bakeoff.evals.columns import AGGREGATE_TPS, BENCHMARK, COST, MEAN_SCORE, PASS_RATE, TTFT_MS


def test_value_with_standard_error_and_n():
    assert show_stat({"value": 2 / 3, "se": math.sqrt(2 / 9 / 3), "n": 3}, PASS_RATE) == "67% ± 27% (n=3)"
    assert show_stat({"value": 0.5, "se": 0.35355, "n": 2}, MEAN_SCORE) == "0.50 ± 0.35"
    # Benchmark scores keep lm-evaluation-harness's key, stderr; a NaN stderr (n=1) is unknown.
    assert show_stat({"value": 0.61, "stderr": 0.069, "n": 50}, BENCHMARK) == "61.0 ± 6.9 (n=50)"
    assert show_stat({"value": 1.0, "stderr": float("nan"), "n": 1}, BENCHMARK) == "100.0 (n=1)"


def test_median_with_its_p5_p95_range():
    assert show_stat({"median": 0.0423, "p5": 0.0401, "p95": 0.0512, "n": 5}, TTFT_MS) == "42 (40–51)"
    assert show_stat({"median": 0.1234, "low": 0.1, "high": 0.15, "n": 5}, COST) == "$0.123 (0.100–0.150)"
    assert show_stat({"median": 41.24, "p5": 39.0, "p95": 43.51, "n": 3, "concurrency": 4},
                     AGGREGATE_TPS) == "41.2 (39.0–43.5, n=3)"


def test_nothing_measured_shows_the_same_mark_everywhere():
    assert show(None) == show_stat(None, PASS_RATE) == show_stat({}, COST) == MISSING
    assert show_stat({"value": 0.0, "se": 0.0, "n": 0}, PASS_RATE) == MISSING   # no cases ran
    assert show_stat({"metric": None, "value": None, "stderr": None, "n": 0}, BENCHMARK) == MISSING


def test_an_estimate_built_in_code_reads_like_a_stored_one():
    diff = Estimate(value=0.125, n=40, se=0.05, low=0.03, high=0.22)   # e.g. a paired difference
    assert show(diff, Style(digits=0, scale=100, unit="%", with_n=True)) == "12% ± 5% (3%–22%, n=40)"
    assert Estimate.from_stat({"value": 0.5, "se": 0.1, "n": 4}) == Estimate(0.5, 4, se=0.1)


def test_human_bytes():
    assert [human_bytes(n) for n in (None, 512, 1536, 3 << 30)] == ["?", "512 B", "1.5 KiB", "3.0 GiB"]


def test_arena_ratings_carry_the_text_both_surfaces_show(capsys):
    from bakeoff.arena.battles import ratings_from_store
    from bakeoff.cli.main import main
    from bakeoff.store import arena as arena_store
    from bakeoff.store import connect

    db = connect()
    for _ in range(3):
        battle = arena_store.create_battle(db, "q", "m-a", "m-b", {})
        arena_store.add_vote(db, battle["id"], "a", "human")
    rows = ratings_from_store(db, n_boot=20)["ratings"]
    assert [r["model"] for r in rows] == ["m-a", "m-b"]
    for r in rows:
        assert r["text"]["rating"] == f"{r['rating']:.0f}" and r["text"]["elo"] == f"{r['elo']:.0f}"
        assert r["text"]["ci"] == f"{r['ci_low']:.0f}–{r['ci_high']:.0f}"
    assert main(["arena", "ratings", "--boot", "20"]) == 0
    printed = capsys.readouterr().out
    assert all(r["text"]["ci"] in printed for r in rows)


def test_benchmark_columns_cover_every_row():
    from bakeoff.evals.columns import benchmark_columns, row_text

    base = {"pass_rate": {"value": 1.0, "se": 0.0, "n": 2}, "mean_score": {"value": 1.0, "se": 0.0, "n": 2}}
    rows = [{**base, "benchmarks": {"arc_easy": {"metric": "acc_norm", "value": 0.61, "stderr": 0.069, "n": 50}}},
            {**base, "benchmarks": {}}]
    columns = benchmark_columns(rows)
    assert columns == [("arc_easy", "arc_easy (acc_norm)")]
    texts = [row_text(r, (t for t, _ in columns))["benchmarks"] for r in rows]
    assert texts == [{"arc_easy": "61.0 ± 6.9 (n=50)"}, {"arc_easy": MISSING}]
