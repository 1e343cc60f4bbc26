"""Verdicts through the real CLI, store and report: ranks with ties, `diff`, the CI gate, JUnit XML,
cost per passing case. Fake engines register through the real registries."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from bakeoff.evals.costs import HOURS_PER_MONTH, format_per_pass, per_pass, reference_prices
from cli_run import run, run_json
from fake_engine import install

N = 30


def suite_text(name: str = "yesno", prefix: str = "q") -> str:
    cases = "\n".join(f'  - {{id: {prefix}{i}, vars: {{i: "{i}"}}, assert: [{{type: icontains, value: "yes{i}"}}]}}'
                      for i in range(N))
    return f'name: {name}\nprompt: "say yes{{{{i}}}}"\ncases:\n{cases}\n'


def passer(cases: set[int]):
    def respond(prompt: str) -> str:
        asked = re.search(r"say yes(\d+)", prompt)
        if asked is None:   # the speed workloads
            return " ".join(["bread"] * 20)
        return f"yes{asked[1]}" if int(asked[1]) in cases else "no"
    return respond


# fake-x and fake-y mirror the starter run: 16 cases only x passes, 7 only y, 4 both, 3 neither.
X = set(range(16)) | set(range(23, 27))
Y = set(range(16, 27))
quality = {"now": set(range(N))}


@pytest.fixture
def suite(tmp_path: Path):
    undo = install({"fake-x": passer(X), "fake-y": passer(Y), "fake-all": passer(set(range(N))),
                    "fake-none": passer(set()),
                    "fake-m": lambda p: passer(quality["now"])(p)})
    path = tmp_path / "yesno.yaml"
    path.write_text(suite_text())
    yield path
    undo()
    quality["now"] = set(range(N))


def test_close_models_share_rank_one_and_the_ranking_is_not_a_finding(
        suite: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "run", "--suite", str(suite), "--models", "fake-x,fake-y", "--no-speed")
    assert code == 0, err
    assert "not yet a finding" in out and "16 vs 7 discordant, exact McNemar p = 0.093" in out
    assert "about" in out and "more cases would detect a 10-point difference" in out
    lines = [ln for ln in out.splitlines() if "fake-x" in ln or "fake-y" in ln][:2]
    assert all(ln.split("│")[1].strip() == "1" for ln in lines)  # both rank 1: a tie

    data = run_json(capsys, "report", "latest")
    (pair,) = data["comparisons"]
    assert (pair["a"], pair["b"], pair["a_only"], pair["b_only"], pair["n"]) == ("fake-x", "fake-y", 16, 7, N)
    assert pair["p_value"] == pytest.approx(0.0931, abs=5e-4) and pair["better"] is None
    assert pair["ci_low"] < pair["score_diff"] < pair["ci_high"] and pair["resamples"] == 10_000
    exported = json.loads(Path(data["report"]["json"]).read_text())
    assert exported["comparisons"][0]["a_only"] == 16 and "not yet a finding" in exported["ranking"]
    html = Path(data["report"]["html"]).read_text()
    assert 'id="pairs"' in html and "16–7, p = 0.093" in html and "7–16, p = 0.093" in html


def test_a_clear_winner_ranks_above(suite: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = run_json(capsys, "run", "--suite", str(suite), "--models", "fake-none,fake-x,fake-all", "--no-speed")
    ranks = {r["model"]: r["rank"] for r in data["leaderboard"]}
    assert ranks == {"fake-all": 1, "fake-x": 2, "fake-none": 3}
    assert [r["model"] for r in data["leaderboard"]] == ["fake-all", "fake-x", "fake-none"]
    assert "Holm" in data["ranking"] and "3 of 3 pairs differ significantly" in data["ranking"]
    # The web UI's board carries the report's matrix, from each row's side, with the shared ranks.
    from bakeoff.boards import bakeoff_board
    from bakeoff.store.db import connect

    pairs = {r["model"]: r for r in bakeoff_board(connect(), data["run"])["pairs"]}
    assert [r["rank"] for r in pairs.values()] == [1, 2, 3]
    best_vs_worst = pairs["fake-all"]["cells"][2]
    assert best_vs_worst["state"] == "better" and best_vs_worst["text"] == "30–0, p < 0.001"
    assert best_vs_worst["interval"] == "score Δ +1.000 (+1.000 to +1.000, n=30)"
    x_vs_all = pairs["fake-x"]["cells"][0]
    assert x_vs_all["state"] == "worse" and x_vs_all["text"].startswith("0–10, p = ")
    assert x_vs_all["ties"] == "20 both passed, 0 both failed" and "fake-all is better" in x_vs_all["title"]
    assert pairs["fake-none"]["cells"][2] is None                      # the diagonal


def test_diff_two_models_of_one_run_in_words(suite: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_id = run_json(capsys, "run", "--suite", str(suite), "--models", "fake-x,fake-y,fake-all",
                      "--no-speed")["run"]
    code, out, err = run(capsys, "diff", f"{run_id}:fake-x", f"{run_id}:fake-y")
    assert code == 0, err
    assert "A = fake-x, B = fake-y: 30 common cases · B wins 7 · A wins 16 · ties 7" in out
    assert "→ no detectable difference (p = 0.093); about" in out
    code, out, _ = run(capsys, "diff", f"{run_id}:fake-y", f"{run_id}:fake-all")
    assert "B wins 19 · A wins 0" in out and "→ fake-all is better, p < 0.001" in out
    code, _, err = run(capsys, "diff", f"{run_id}:fake-q", f"{run_id}:fake-y")
    assert code == 3 and "fake-x" in err


def test_diff_refuses_different_suites_and_disjoint_cases(suite: Path, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    first = run_json(capsys, "run", "--suite", str(suite), "--models", "fake-x", "--no-speed")["run"]
    other = tmp_path / "other.yaml"
    other.write_text(suite_text(name="other"))
    second = run_json(capsys, "run", "--suite", str(other), "--models", "fake-x", "--no-speed")["run"]
    code, _, err = run(capsys, "diff", str(first), str(second))
    assert code == 2 and "used suite 'yesno'" in err and "needs the same cases" in err
    renamed = tmp_path / "renamed.yaml"
    renamed.write_text(suite_text(prefix="r"))          # same suite name, no case id in common
    third = run_json(capsys, "run", "--suite", str(renamed), "--models", "fake-x", "--no-speed")["run"]
    code, _, err = run(capsys, "diff", str(first), str(third))
    assert code == 2 and "no case in common" in err and err.count("\n") == 1


def test_gate_fails_a_regression_against_a_baseline_and_writes_junit(
        suite: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = run_json(capsys, "run", "--suite", str(suite), "--models", "fake-m", "--no-speed")
    quality["now"] = set(range(0, N, 2))                 # half the cases regress
    junit = tmp_path / "junit.xml"
    code, out, err = run(capsys, "run", "--suite", str(suite), "--models", "fake-m", "--no-speed",
                         "--no-cache", "--baseline", base["report"]["json"], "--junit", str(junit))
    assert code == 7, err
    assert "quality gate failed" in err and "significantly worse than baseline" in err
    assert "15 cases passed only in the baseline, 0 only now" in err
    root = ET.parse(junit).getroot()
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == ["yesno · fake-m", "yesno · quality gate"]
    cases = suites[0].findall("testcase")
    assert len(cases) == N and {c.get("classname") for c in cases} == {"bakeoff.yesno.fake-m"}
    failed = [c for c in cases if c.find("failure") is not None]
    assert len(failed) == 15 == int(suites[0].get("failures"))
    assert failed[0].get("name") == "q1" and failed[0].find("failure").text == "no"
    assert all(float(c.get("time")) >= 0 for c in cases)
    (gate_case,) = suites[1].findall("testcase")
    assert "not significantly worse" in gate_case.get("name") and gate_case.find("failure") is not None
    assert int(root.get("tests")) == N + 1 and int(root.get("failures")) == 16

    quality["now"] = set(range(N))                        # fixed again: the gate passes
    code, out, err = run(capsys, "run", "--suite", str(suite), "--models", "fake-m", "--no-speed",
                         "--no-cache", "--baseline", str(base["run"]), "--fail-under", "0.8")
    assert code == 0, err
    assert "quality gate: passed (2 checks)" in out


def test_fail_under_and_a_baseline_of_another_suite(suite: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "run", "--suite", str(suite), "--models", "fake-x,fake-all",
                         "--no-speed", "--fail-under", "0.8")
    assert code == 7 and "fake-x passed 67% of 30 cases, under --fail-under 80%" in err
    assert "fake-all" not in err.splitlines()[-1]
    other = tmp_path / "other.yaml"
    other.write_text(suite_text(name="other"))
    before = run_json(capsys, "runs")
    code, _, err = run(capsys, "run", "--suite", str(other), "--models", "fake-x", "--baseline", "latest")
    assert code == 2 and "same suite" in err
    assert run_json(capsys, "runs") == before          # refused before anything ran
    bad = tmp_path / "nope.json"
    bad.write_text("{}")
    code, _, err = run(capsys, "run", "--suite", str(suite), "--models", "fake-x", "--baseline", str(bad))
    assert code == 2 and "not a bakeoff results.json" in err


def test_cost_per_passing_case_and_break_even(suite: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = run_json(capsys, "run", "--suite", str(suite), "--models", "fake-x", "--repeats", "1")
    row = data["leaderboard"][0]
    hourly = data["settings"]["hourly_cost"]
    # The fake engine measures 1000 prompt tok/s and 100 output tok/s on the speed workloads.
    results = json.loads(Path(data["report"]["json"]).read_text())["run"]["results"]
    usd = [hourly / 3600 * (r["usage"]["prompt_tokens"] / 1000 + r["usage"]["completion_tokens"] / 100)
           for r in results]
    c = row["cost_per_pass"]
    assert c["value"] == pytest.approx(sum(usd) / 20) and (c["n"], c["n_pass"]) == (N, 20)
    assert c["low"] <= c["value"] <= c["high"]
    one = per_pass(np.array([1.0, 1.0, 1.0]), np.array([True, False, False]))
    assert one is not None and one["high"] is None and format_per_pass(one) == "$3.00 (1.00–∞, n=3)"
    assert per_pass(np.array([1.0]), np.array([False])) is None   # nothing passed: no price
    assert row["cost_basis"] == f"machine ${hourly:g}/h at the measured speed"
    mini = next(b for b in row["break_even"] if b["model"] == "gpt-4o-mini")
    price = next(p for p in reference_prices() if p["model"] == "gpt-4o-mini")
    tok_in = sum(r["usage"]["prompt_tokens"] for r in results) / N
    tok_out = sum(r["usage"]["completion_tokens"] for r in results) / N
    hosted = (tok_in * price["input"] + tok_out * price["output"]) / 1e6
    assert mini["cases_per_month"] == pytest.approx(hourly * HOURS_PER_MONTH / hosted)
    assert mini["breaks_even"] == (mini["cases_per_month"] <= mini["capacity_per_month"])
    code, out, _ = run(capsys, "report", "latest")
    assert "break-even for fake-x" in out and "gpt-4o-mini" in out.split("break-even for fake-x")[1]
