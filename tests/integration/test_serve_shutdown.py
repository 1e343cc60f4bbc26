"""SIGTERM while a request is being answered: `bakeoff serve` stops with one line, no traceback."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from peers import free_port, wait_http

TESTS = Path(__file__).resolve().parents[1]

# The server process: a fake model whose answer takes longer than the graceful-shutdown window
# and that says when it has started, then the real CLI.
SERVER = """
import sys, time
from pathlib import Path
sys.path.insert(0, {tests!r})
from fake_engine import install

def slow(prompt):
    Path({marker!r}).touch()
    time.sleep(8)
    return "finally"

install({{"fake-slow": slow}})
from bakeoff.cli.main import main
sys.exit(main(["serve", "--port", "{port}", "--models", "fake-slow"]))
"""


def _start_slow_server(tmp_path, bakeoff_home) -> tuple[subprocess.Popen, int, Path]:
    port, marker = free_port(), tmp_path / "answering"
    code = SERVER.format(tests=str(TESTS), marker=str(marker), port=port)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, "BAKEOFF_HOME": str(bakeoff_home)})
    return proc, port, marker


def _wait_for(marker: Path) -> None:
    deadline = time.time() + 60
    while not marker.exists() and time.time() < deadline:
        time.sleep(0.05)
    assert marker.exists(), "the request never reached the model"


def test_sigterm_during_a_request_stops_without_a_traceback(tmp_path, bakeoff_home):
    proc, port, marker = _start_slow_server(tmp_path, bakeoff_home)
    try:
        wait_http(f"http://127.0.0.1:{port}/health", proc=proc)
        body = {"model": "fake-slow", "messages": [{"role": "user", "content": "hi"}]}
        client = threading.Thread(target=lambda: _post_quietly(f"http://127.0.0.1:{port}/v1/chat/completions", body))
        client.start()
        _wait_for(marker)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
        client.join(30)
    finally:
        proc.kill()
    assert "Traceback" not in err and "CancelledError" not in err, err[-2000:]
    assert "request POST /v1/chat/completions cancelled: the server is shutting down" in err


def _post_quietly(url: str, body: dict) -> None:
    try:
        httpx.post(url, json=body, timeout=60)
    except httpx.HTTPError:
        pass   # the server went away mid-answer: expected


def test_ctrl_c_twice_during_a_request_stops_without_a_traceback(tmp_path, bakeoff_home):
    """Probe 5: a second Ctrl-C (uvicorn then exits at once) printed a CancelledError traceback
    from the lifespan task, and the waiting client got a bare 'Internal Server Error'."""
    proc, port, marker = _start_slow_server(tmp_path, bakeoff_home)
    answers: list[httpx.Response] = []
    try:
        wait_http(f"http://127.0.0.1:{port}/health", proc=proc)
        body = {"model": "fake-slow", "messages": [{"role": "user", "content": "hi"}]}
        client = threading.Thread(target=lambda: answers.append(
            httpx.post(f"http://127.0.0.1:{port}/v1/chat/completions", json=body, timeout=60)))
        client.start()
        _wait_for(marker)
        proc.send_signal(signal.SIGINT)
        time.sleep(0.3)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        client.join(30)
    finally:
        proc.kill()
    assert "Traceback" not in err and "CancelledError" not in err, err[-2000:]
    assert answers and answers[0].status_code == 503, answers
    assert "shutting down" in answers[0].json()["error"]["message"]
