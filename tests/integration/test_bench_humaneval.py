"""HumanEval's sandbox: hostile programs are stopped by their limits and scored as failures while
the run goes on; the canonical solutions all pass; the whole path works through a fake model."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from bakeoff.evals.bench import get_task, run_benchmark
from bakeoff.evals.bench.humaneval import build_item, check
from bakeoff.evals.bench.sandbox import Limits, run_program

HOSTILE = {
    "infinite loop": "while True:\n    pass\n",
    "huge allocation": "blob = bytearray(16 * 1024 ** 3)\n",
    "fork bomb": "import os\nwhile True:\n    os.fork()\n",
    "network": "import _socket\n_socket.socket().connect(('127.0.0.1', 9))\n",
    "socket pair": "import _socket\n_socket.socketpair()\n",
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_code_is_stopped_and_fails(name):
    t0 = time.perf_counter()
    outcome = run_program(HOSTILE[name], Limits(timeout_s=3))
    assert not outcome.passed
    assert time.perf_counter() - t0 < 10
    if name == "infinite loop":
        assert outcome.status == "timeout"
    if name == "huge allocation":
        assert "MemoryError" in outcome.output
    if name in ("fork bomb", "network", "socket pair"):
        assert "Operation not permitted" in outcome.output
    # the next program runs normally
    assert run_program("print(6 * 7)\n").output.strip() == "42"


EARLY_EXITS = {
    "sys.exit(0)": "    return []\nimport sys\nsys.exit(0)\n",
    "unittest.main()": "    return []\nif __name__ == '__main__':\n    import unittest\n    unittest.main()\n",
    "os._exit(0)": "    return []\nimport os\nos._exit(0)\n",
}


@pytest.mark.parametrize("name", list(EARLY_EXITS))
def test_an_answer_that_exits_before_the_tests_run_fails(name):
    """A wrong answer that ends the program with status 0 before check() ran was scored as passed
    (`unittest.main()` after a function is a habit of models; with no TestCase it exits 0 on 3.11)."""
    spec = get_task("humaneval")
    item = build_item(spec, spec.docs(), 0, 0)
    result = check(item, EARLY_EXITS[name])
    assert result["status"] == "failed" and result["pass_at_1"] == 0
    assert "before its last line ran" in result["output"]


def test_all_canonical_solutions_pass():
    spec = get_task("humaneval")
    docs = spec.docs()
    assert len(docs) == 164
    items = [build_item(spec, docs, i, 0) for i in range(len(docs))]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda i: check(items[i], docs[i]["canonical_solution"]), range(len(docs))))
    failed = [r["task_id"] for r in results if not r["pass_at_1"]]
    assert failed == []


def test_humaneval_run_scores_pass_at_1_and_survives_a_hanging_answer():
    from fake_engine import install

    docs = get_task("humaneval").docs()
    by_prompt = {d["prompt"]: d["canonical_solution"] for d in docs}
    # right answers for problems 0 and 2, an endless loop for problem 1
    answers = {docs[0]["prompt"]: by_prompt[docs[0]["prompt"]],
               docs[1]["prompt"]: "    while True:\n        pass\n",
               docs[2]["prompt"]: by_prompt[docs[2]["prompt"]]}
    undo = install({"fake-coder": lambda prompt: answers[prompt]})
    try:
        result = run_benchmark("humaneval", "fake-coder", limit=3)
    finally:
        undo()
    assert [r["status"] for r in result.items] == ["passed", "timeout", "passed"]
    assert result.scores["pass_at_1"].value == pytest.approx(2 / 3)
