"""Remote endpoints against real peers on loopback: llama-cpp-python's own server, and a proxy that
injects 429s, 500s, dropped and cut connections and stalls."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import peers
from bakeoff.engines import GenParams, LoadOptions, LogLikRequest, Message, collect, open_engine
from bakeoff.models.registry import Registry

BIN = Path(sys.executable).with_name("bakeoff")
KEY = "test-secret-key"
Q = [Message(role="user", content="What is 2+2?")]
GREEDY = GenParams(temperature=0, max_tokens=16)


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory):
    from bakeoff.models.packaged import smollm2_path

    port = peers.free_port()
    log = tmp_path_factory.mktemp("peer") / "server.log"
    proc = peers.start_llama_cpp_server(smollm2_path(), port, log)
    yield f"http://127.0.0.1:{port}/v1"
    proc.terminate()
    proc.wait(10)


def bakeoff(*args, env=None, timeout=120):
    return subprocess.run([str(BIN), *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


def add(name, url, model="smol", *extra):
    r = bakeoff("endpoints", "add", name, "--base-url", url, "--model", model, "--timeout", "20", *extra)
    assert r.returncode == 0, r.stderr


def test_endpoint_is_a_model_everywhere(llama_server, bakeoff_home):
    add("peer", llama_server, "smol", "--price-in", "0.1", "--price-out", "0.3")
    listed = json.loads(bakeoff("endpoints", "list", "--json").stdout)
    assert listed["peer"]["price_out"] == 0.3
    models = json.loads(bakeoff("models", "--json").stdout)
    assert any(m["name"] == "peer" and m["source"] == "endpoint" for m in models)
    test = bakeoff("endpoints", "test", "peer")
    assert test.returncode == 0 and "OK" in test.stdout
    ask = bakeoff("ask", "peer", "What is 2+2?", "--temperature", "0", "--max-tokens", "12", "--json")
    assert ask.returncode == 0, ask.stderr
    out = json.loads(ask.stdout)
    assert out["text"].strip() and out["timings"]["ttft_s"] > 0
    assert bakeoff("endpoints", "remove", "peer").returncode == 0
    assert "peer" not in json.loads(bakeoff("endpoints", "list", "--json").stdout)


def test_remote_greedy_answer_matches_the_local_engine(llama_server, bakeoff_home):
    add("peer", llama_server)
    remote = collect(open_engine(Registry().resolve("peer")).chat(Q, GREEDY))
    local = collect(open_engine(Registry().resolve("smollm2-135m"), LoadOptions(n_ctx=2048)).chat(Q, GREEDY))
    assert remote.text == local.text


def test_faults_are_retried_and_nothing_is_lost_or_doubled(llama_server, bakeoff_home):
    add("peer", llama_server)
    clean = collect(open_engine(Registry().resolve("peer")).chat(Q, GREEDY)).text
    proxy = peers.FaultProxy(llama_server.removesuffix("/v1"),
                             ["429", "500", "drop", "cut", "stall"], stall_s=8)
    try:
        add("flaky", proxy.url, "smol", "--timeout", "4")
        engine = open_engine(Registry().resolve("flaky"))
        got = collect(engine.chat(Q, GREEDY))
        assert got.text == clean
        assert engine.client.retries == 5
        assert proxy.seen == ["429", "500", "drop", "cut", "stall", "pass"]
    finally:
        proxy.close()


def test_shifted_prompt_logprobs_are_refused_not_scored(llama_server, bakeoff_home):
    """llama-cpp-python's server misaligns echoed logprobs by one token: we detect it and refuse."""
    from bakeoff.errors import UnsupportedError

    add("peer", llama_server)
    engine = open_engine(Registry().resolve("peer"))
    with pytest.raises(UnsupportedError, match="shifted by one token"):
        engine.loglikelihood([LogLikRequest("The capital of France is", " Paris")])


@pytest.mark.parametrize("case", ["unreachable", "wrong-model", "bad-key"])
def test_endpoint_problems_are_one_line_with_status(case, llama_server, bakeoff_home):
    url = {"unreachable": f"http://127.0.0.1:{peers.free_port()}/v1"}.get(case, llama_server)
    model = "no-such-model" if case == "wrong-model" else "smol"
    if case == "bad-key":
        proxy = peers.FaultProxy(llama_server.removesuffix("/v1"), ["401"] * 3)
        url = proxy.url
    add("ep", url, model, "--api-key-env", "EP_KEY")
    r = bakeoff("endpoints", "test", "ep", env={"EP_KEY": "wrong"})
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    expect = {"unreachable": "cannot reach", "wrong-model": "no model 'no-such-model'",
              "bad-key": "HTTP 401"}[case]
    assert expect in r.stderr
    if case == "bad-key":
        proxy.close()


SWEEP_SUITE = """\
name: remote-sweep
prompt: "{{q}}"
params: {max_tokens: 12}
cases:
""" + "".join(
    f"  - {{id: c{i}, vars: {{q: \"What is {i} plus {i}?\"}}, assert: [{{type: contains, value: \"{2 * i}\"}}]}}\n"
    for i in range(8))


def run_json(suite, models, timeout=400):
    r = bakeoff("run", "--suite", str(suite), "--models", models, "--no-speed", "--json", timeout=timeout)
    return r, (json.loads(r.stdout) if r.stdout.strip().startswith("{") else None)


def stored_results(home, model, column="COUNT(*)"):
    import sqlite3

    db = sqlite3.connect(home / "bakeoff.db")
    rows = db.execute(f"SELECT case_id, {column} FROM evals_results WHERE model=? GROUP BY case_id",
                      (model,)).fetchall()
    return dict(rows)


def test_local_and_remote_side_by_side_in_a_bakeoff(llama_server, bakeoff_home, tmp_path):
    """A local model and an endpoint in one bakeoff: both rows complete, every case answered once."""
    add("peer", llama_server)
    suite = tmp_path / "sweep.yaml"
    suite.write_text(SWEEP_SUITE)
    r, out = run_json(suite, "smollm2-135m,peer")
    assert r.returncode == 0, r.stderr
    assert stored_results(bakeoff_home, "peer") == {f"c{i}": 1 for i in range(8)}
    assert all(o.strip() for o in stored_results(bakeoff_home, "peer", "output").values())
    assert len(stored_results(bakeoff_home, "SmolLM2-135M-Instruct-Q4_1")) == 8
    board = {row["model"]: row for row in out["leaderboard"]}
    assert board["peer"]["pass_rate"]["n"] == 8 and board["peer"]["status"] == "done"


def test_sweep_interrupted_by_a_failing_endpoint_resumes_without_loss(llama_server, bakeoff_home, tmp_path):
    suite = tmp_path / "sweep.yaml"
    suite.write_text(SWEEP_SUITE)
    # A few transient faults are absorbed by retries; then the endpoint dies for good (every
    # request answers 500 until retries run out), which stops the model mid-sweep.
    proxy = peers.FaultProxy(llama_server.removesuffix("/v1"), ["429", "drop", "pass", "pass", "pass"] + ["500"] * 40)
    try:
        add("flaky", proxy.url, "smol", "--concurrency", "2", "--timeout", "20")
        r, _ = run_json(suite, "flaky")
        first = stored_results(bakeoff_home, "flaky")
        assert r.returncode != 0 and 0 < len(first) < 8
        proxy.faults.clear()  # the endpoint recovers; the same command resumes the same run
        r, out = run_json(suite, "flaky")
        assert r.returncode == 0, r.stderr
        assert stored_results(bakeoff_home, "flaky") == {f"c{i}": 1 for i in range(8)}
    finally:
        proxy.close()


@pytest.fixture(scope="module")
def bakeoff_serve(tmp_path_factory):
    """`bakeoff serve` on loopback, as a peer: its own home, SmolLM2 with continuous batching."""
    port = peers.free_port()
    home = tmp_path_factory.mktemp("serve-home")
    log = (home / "serve.log").open("w")
    proc = subprocess.Popen([str(BIN), "serve", "--port", str(port), "--models", "smollm2-135m"],
                            env={**os.environ, "BAKEOFF_HOME": str(home)}, stdout=log, stderr=subprocess.STDOUT)
    peers.wait_http(f"http://127.0.0.1:{port}/health", proc=proc)
    yield f"http://127.0.0.1:{port}/v1"
    proc.terminate()
    proc.wait(20)


def test_bakeoff_serve_as_a_contestant_in_a_benchmark_and_a_bakeoff(bakeoff_serve, bakeoff_home, tmp_path):
    add("srv", bakeoff_serve, "smollm2-135m", "--concurrency", "4")
    r = bakeoff("bench", "arc_easy", "--models", "srv,smollm2-135m", "--limit", "6", "--json", timeout=300)
    assert r.returncode == 0, r.stderr
    scores = {row["model"]: row["scores"] for row in json.loads(r.stdout)}
    local = scores["SmolLM2-135M-Instruct-Q4_1"]
    for metric in ("acc", "acc_norm"):  # same weights, log-likelihoods through echo + logprobs
        assert scores["srv"][metric]["value"] == local[metric]["value"]
        assert scores["srv"][metric]["n"] == 6
    suite = tmp_path / "sweep.yaml"
    suite.write_text(SWEEP_SUITE)
    r, out = run_json(suite, "srv")
    assert r.returncode == 0, r.stderr
    assert stored_results(bakeoff_home, "srv") == {f"c{i}": 1 for i in range(8)}
