"""Real runs on SmolLM2-135M: a small suite end to end, and resume after `kill -9`."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bakeoff.cli.main import main
from bakeoff.engines import factory
from bakeoff.evals.runner import RunOptions, run_suite
from bakeoff.evals.speed import Workload
from bakeoff.evals.suite import load_suite
from bakeoff.settings import reset_settings
from bakeoff.store import connect
from bakeoff.store.evals import get_run

pytestmark = pytest.mark.slow

SUITE = """\
name: smoke
system: "You are a concise assistant."
prompt: "{{q}}"
params: {max_tokens: 24}
cases:
  - {id: france, vars: {q: "What is the capital of France?"}, assert: [{type: icontains, value: Paris}]}
  - {id: japan, vars: {q: "What is the capital of Japan?"}, assert: [{type: icontains, value: Tokyo}]}
  - {id: json, vars: {q: "Output only this JSON: {\\"a\\": 1}"}, assert: [{type: is-json}]}
  - {id: never, vars: {q: "Say hello."}, assert: [{type: contains, value: "zq-never-said"}]}
"""


@pytest.fixture
def one_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    # The test machine is shared: one llama.cpp thread degrades far less under contention.
    monkeypatch.setenv("BAKEOFF_THREADS", "1")
    reset_settings()


def test_small_suite_end_to_end(tmp_path: Path, one_thread: None, capsys,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    from bakeoff.models.machine import save_profile
    from fixed_machine import fixed_profile

    save_profile(fixed_profile())       # a profile for this machine at 1 thread (the one at 2 does not apply)
    (tmp_path / "smoke.yaml").write_text(SUITE)
    small = (Workload("short", 50, 24, "Continue:\n\n"), Workload("long", 300, 4, "Summarise:\n\n"))
    wrapped = []
    real_batched = factory.batched

    def batched(engine, options):  # the factory's batching step, recorded on its way through
        wrapped.append((engine.h.n_seq_max, options.concurrency))
        return real_batched(engine, options)

    monkeypatch.setattr(factory, "batched", batched)
    run_id = run_suite(load_suite(tmp_path / "smoke.yaml"), ["smollm2-135m"],
                       RunOptions(speed_repeats=2, workloads=small, concurrency=2))
    assert wrapped == [(2, 2)]
    run = get_run(connect(), run_id)
    by_case = {r["case_id"]: r for r in run["results"]}
    assert by_case["france"]["status"] == "pass" and "Paris" in by_case["france"]["output"]
    assert by_case["never"]["status"] == "fail"
    assert all(r["usage"]["completion_tokens"] > 0 for r in run["results"])
    assert main(["report", str(run_id), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    row = out["leaderboard"][0]
    assert row["model"] == "SmolLM2-135M-Instruct-Q4_1" and row["pass_rate"]["n"] == 4
    assert 0 < row["pass_rate"]["value"] < 1
    assert row["output_tps"]["n"] == 2 and row["output_tps"]["median"] > 1
    assert 250 <= row["speed"]["long"]["prompt_tokens"]["median"] <= 350  # ~300 in its own tokens
    assert row["cost"]["blended"]["low"] <= row["cost"]["blended"]["median"] <= row["cost"]["blended"]["high"]
    assert row["peak_rss_bytes"] > 50 * 2**20 and row["info"]["quantization"]
    html = Path(out["report"]["html"]).read_text()
    assert "Paris" in html
    # the speed model's prediction beside each measured workload (the fixed test profile predicts)
    assert "speed model: SmolLM2-135M-Instruct-Q4_1 short workload output tok/s predicted" in html
    assert "vs measured" in html and "(median of 2)" in html


def _results(db_path: Path) -> list[tuple]:
    try:
        with sqlite3.connect(db_path, timeout=30) as db:
            return db.execute("SELECT id, run_id, case_id, created_at FROM evals_results "
                              "ORDER BY id").fetchall()
    except sqlite3.OperationalError:  # not created yet
        return []


def test_ctrl_c_and_kill_9_then_rerun_resumes(tmp_path: Path, bakeoff_home: Path) -> None:
    cases = "\n".join(f"  - {{id: c{i}, vars: {{q: \"Name a fruit that starts with the letter "
                      f"{chr(65 + i)}.\"}}, assert: [{{type: regex, value: \"\\\\w\"}}]}}" for i in range(10))
    suite = tmp_path / "ten.yaml"
    suite.write_text("prompt: \"{{q}}\"\nparams: {max_tokens: 24}\ncases:\n" + cases + "\n")
    cmd = [sys.executable, "-m", "bakeoff.cli.main", "run", "--suite", str(suite),
           "--models", "smollm2-135m", "--no-speed", "--threads", "1", "--json"]
    env = {**os.environ, "BAKEOFF_HOME": str(bakeoff_home)}
    db_path = bakeoff_home / "bakeoff.db"

    def start_then(sig: int, at_least: int) -> subprocess.Popen:
        # A terminal's Ctrl-C reaches a process whose SIGINT is at its default; a test run started in
        # the background (`make test &`) inherits SIGINT ignored, and Python then never raises
        # KeyboardInterrupt. Restore the default in the child so the test sees what a user does.
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        deadline = time.monotonic() + 180
        while len(_results(db_path)) < at_least and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(proc.pid, sig)
        proc.wait()
        return proc

    # Ctrl-C: a clean stop that says how to resume.
    proc = start_then(signal.SIGINT, 2)
    assert proc.returncode == 130, proc.stderr.read()
    assert "run 1 stopped: run the same command again to resume" in proc.stderr.read()
    # kill -9: no chance to clean up at all.
    proc = start_then(signal.SIGKILL, len(_results(db_path)) + 2)
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    before = _results(db_path)
    assert 4 <= len(before) < 10
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    after = _results(db_path)
    assert {r[1] for r in after} == {out["run"]}  # the same run was resumed, no new run
    assert sorted(r[2] for r in after) == sorted(f"c{i}" for i in range(10))  # none lost or doubled
    assert after[: len(before)] == before  # rows written before the kill are untouched
    assert out["leaderboard"][0]["pass_rate"]["n"] == 10
    assert out["settings"]["threads"] == 1 and out["leaderboard"][0]["info"]["threads"] == 1
