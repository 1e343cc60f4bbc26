"""CLI commands from issue 2, run as a user would: in a subprocess, checking output and exit codes."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).with_name("bakeoff")


def bakeoff(*args, home=None, stdin=None, timeout=120):
    env = {**os.environ}
    if home is not None:
        env["BAKEOFF_HOME"] = str(home)
    return subprocess.run([str(BIN), *args], capture_output=True, text=True, env=env, input=stdin,
                          timeout=timeout)


def test_models_lists_both_embedded_models():
    r = bakeoff("models", "--json")
    assert r.returncode == 0, r.stderr
    rows = {row["name"]: row for row in json.loads(r.stdout)}
    smol = rows["SmolLM2-135M-Instruct-Q4_1"]
    assert smol["architecture"] == "llama" and smol["quantization"] == "Q4_1"
    assert smol["license"] == "apache-2.0" and smol["context_length"] == 8192
    gemma = rows["gemma-3-270m-Q4_K_M"]
    assert gemma["architecture"] == "gemma3" and gemma["quantization"] == "Q4_K_M"
    table = bakeoff("models")
    assert "smollm2-135m" in table.stdout and "gemma3" in table.stdout


def test_show_gives_metadata_template_and_fit_verdict():
    r = bakeoff("show", "smollm2-135m", "--json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert "<|im_start|>" in data["gguf"]["chat_template"]
    assert data["memory"]["verdict"] in ("fits", "tight", "won't fit")
    assert data["memory"]["total_bytes"] > data["gguf"]["file_size"]
    human = bakeoff("show", "smollm2-135m", "--ctx", "1024")
    assert "fits" in human.stdout and "chat template" in human.stdout
    # SmolLM2-135M's template has no tool support: show says serve falls back to the generic format
    assert data["tool_calls"].startswith("generic:") and "no tool support" in data["tool_calls"]
    assert "tool calls (bakeoff serve): generic" in human.stdout


def test_ask_streams_and_logs(bakeoff_home):
    r = bakeoff("ask", "smollm2-135m", "What is the capital of France?", "--temperature", "0",
                "--max-tokens", "24", "--stats")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip()
    assert "TTFT" in r.stderr and "output" in r.stderr
    j = bakeoff("ask", "smollm2-135m", "Say hi", "--json", "--temperature", "0", "--max-tokens", "8")
    out = json.loads(j.stdout)
    assert out["usage"]["completion_tokens"] <= 8 and "ttft_s" in out["timings"]
    logs = json.loads(bakeoff("logs", "--json").stdout)
    assert len(logs) == 2
    assert logs[0]["model_sha256"] and len(logs[0]["model_sha256"]) == 64
    assert logs[0]["quantization"] == "Q4_1" and logs[0]["engine_version"].startswith("llama-cpp-python")
    assert "smollm2" in bakeoff("logs").stdout.lower()


def test_chat_switches_model_and_keeps_going():
    script = "Hello\n/system Answer briefly.\n/model gemma3-270m\nWhat is 2+2?\n/model nope-model\n/reset\n/exit\n"
    r = bakeoff("chat", "smollm2-135m", "--max-tokens", "12", "--temperature", "0", stdin=script,
                timeout=240)
    assert r.returncode == 0, r.stderr
    assert "now chatting with gemma-3-270m-Q4_K_M" in r.stdout
    assert "unknown model 'nope-model'" in r.stderr
    assert "conversation cleared" in r.stdout


@pytest.mark.parametrize("args,code,needle", [
    (["ask", "smollm-135", "hi"], 3, "did you mean"),
    (["ask", "/nonexistent/model.gguf", "hi"], 4, "file not found"),
    (["show", "/etc/hostname"], 4, "not a GGUF file"),
])
def test_bad_input_is_one_line_without_traceback(args, code, needle):
    r = bakeoff(*args)
    assert r.returncode == code
    assert needle in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_truncated_model_is_rejected_before_llama_cpp(copy_model):
    path = copy_model("cut.gguf")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    r = bakeoff("ask", str(path), "hi")
    assert r.returncode == 4 and "truncated" in r.stderr and "Traceback" not in r.stderr


def test_prompt_longer_than_context_says_both_lengths():
    r = bakeoff("ask", "smollm2-135m", "word " * 1200, "--ctx", "512")
    assert r.returncode == 2
    assert "512" in r.stderr and "exceed the context window" in r.stderr


def test_unwritable_home(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    r = bakeoff("logs", home=blocker / "home")
    assert r.returncode == 5 and "not writable" in r.stderr and "BAKEOFF_HOME" in r.stderr
