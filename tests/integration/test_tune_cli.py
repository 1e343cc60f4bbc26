"""`bakeoff tune` end to end: a few steps on SmolLM2-135M, registration, use as a model; resume after
kill -9 (on a tiny llama GGUF, for speed); refusals before anything loads."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("torch")

from bakeoff.cli.main import main  # noqa: E402

EXAMPLES = Path(__file__).resolve().parents[2] / "src" / "bakeoff" / "tune" / "examples"
TUNED = "SmolLM2-135M-Instruct-Q4_1+orders"


def _subset(src: str, dst: Path, n: int) -> Path:
    dst.write_text("".join((EXAMPLES / src).read_text().splitlines(keepends=True)[:n]))
    return dst


@pytest.fixture
def tiny_data(tmp_path: Path) -> tuple[Path, Path]:
    return (_subset("orders-train.jsonl", tmp_path / "train.jsonl", 8),
            _subset("orders-eval.jsonl", tmp_path / "eval.jsonl", 2))


def test_tune_registers_a_model_that_works_everywhere(tiny_data, bakeoff_home: Path, smollm2_path: Path,
                                                      capsys) -> None:
    train, held = tiny_data
    args = ["tune", "smollm2-135m", "--data", str(train), "--eval", str(held), "--name", "orders",
            "--max-steps", "1", "--batch-size", "4", "--rank", "2", "--targets", "q_proj,v_proj",
            "--threads", "2", "--merge"]
    assert main(args) == 0
    out = capsys.readouterr()
    assert f"registered {TUNED}" in out.out
    assert "held-out pass rate: base" in out.out and "(n=2, greedy)" in out.out
    folder = bakeoff_home / "tuned" / TUNED
    lineage = json.loads((folder / "lineage.json").read_text())
    from bakeoff.models.packaged import sha256_file

    assert lineage["base_sha256"] == sha256_file(smollm2_path)
    assert lineage["steps"] == 1 and len(lineage["loss_curve"]) == 1
    assert lineage["n_train"] == 8 and lineage["n_eval"] == 2
    assert lineage["hyperparameters"]["rank"] == 2 and len(lineage["data_sha256"]) == 64
    assert lineage["hyperparameters"]["targets"] == ["q_proj", "v_proj"]
    held_out = lineage["held_out"]
    assert held_out["n"] == 2 and held_out["wins"] + held_out["losses"] + held_out["ties"] == 2
    assert not (folder / "checkpoint.pt").exists()
    report = Path(out.out.split("report: ")[1].split()[0])
    assert 'id="chart-loss"' in report.read_text() and "McNemar" in report.read_text()
    # The loss curve is stored with the run: re-rendering the report draws it again.
    report.unlink()
    assert main(["report", str(held_out["run_id"])]) == 0
    capsys.readouterr()
    assert 'id="chart-loss"' in report.read_text() and "training loss" in report.read_text()
    # --merge: a standalone file in the base's own type, registered, never the base file.
    assert f"merged: {TUNED}-merged (Q4_1," in out.out
    merged = lineage["merged"][0]
    assert merged["tensor_type"] == "Q4_1" and (folder / merged["file"]).is_file()
    assert sha256_file(smollm2_path) == lineage["base_sha256"]

    # It is a model like any other: listed (with the base's aliases), shown, asked.
    assert main(["models", "--json"]) == 0
    listed = {m["name"]: m for m in json.loads(capsys.readouterr().out)}
    assert "smollm2-135m+orders" in listed[TUNED]["aliases"]
    assert f"{TUNED}-merged" in listed and not listed[f"{TUNED}-merged"].get("adapters")
    answers = {}
    assert "smollm2-135m+orders-merged" in listed[f"{TUNED}-merged"]["aliases"]
    for name in ("smollm2-135m+orders", "smollm2-135m+orders-merged"):
        assert main(["ask", name, "Order from Ann Lee: 2 x lamp, ship to Oslo.",
                     "--temperature", "0", "--max-tokens", "16", "--json"]) == 0
        answers[name] = json.loads(capsys.readouterr().out)
    assert answers["smollm2-135m+orders"]["usage"]["completion_tokens"] > 0
    # The same greedy answer from the adapter at load time and from the merged file.
    assert answers["smollm2-135m+orders"]["text"] == answers["smollm2-135m+orders-merged"]["text"]
    assert main(["show", f"{TUNED}-merged"]) == 0
    assert "folded into this file" in capsys.readouterr().out
    # `bakeoff merge` later, as F16; again: kept, not rewritten.
    assert main(["merge", "smollm2-135m+orders", "--type", "f16"]) == 0
    assert f"merged: {TUNED}-merged-F16 (F16," in capsys.readouterr().out
    assert main(["merge", "smollm2-135m+orders", "--type", "F16"]) == 0
    assert "already merged" in capsys.readouterr().out
    assert main(["merge", "smollm2-135m", "--type", "F16"]) == 2
    assert "not a tuned model" in capsys.readouterr().err
    # Running it again is refused (nothing is overwritten without --restart).
    assert main(args) == 1
    assert "already exists" in capsys.readouterr().err


def _tiny_llama(smollm2_path: Path, folder: Path) -> Path:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tinygguf import write_tiny

    return write_tiny("llama", folder / "tiny-llama.gguf", smollm2_path)


def test_resume_after_kill_9(tmp_path: Path, tiny_data, bakeoff_home: Path, smollm2_path: Path) -> None:
    base = _tiny_llama(smollm2_path, tmp_path)
    train, _ = tiny_data
    # 6 examples x 20 epochs at batch 1: 120 steps, long enough to be killed part way.
    cmd = [sys.executable, "-m", "bakeoff.cli.main", "tune", str(base), "--data", str(train),
           "--eval-fraction", "0.25", "--name", "k", "--batch-size", "1", "--epochs", "20",
           "--save-steps", "1", "--threads", "1", "--no-compare"]
    env = {**os.environ, "BAKEOFF_HOME": str(bakeoff_home)}
    ckpt = bakeoff_home / "tuned" / "tiny-llama+k" / "checkpoint.pt"
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    while not ckpt.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert ckpt.exists(), proc.communicate()[1].decode()[-2000:]
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (ckpt.parent / "lineage.json").exists()   # a killed tune is not a model
    import torch

    saved_step = torch.load(ckpt, weights_only=False)["state"]["step"]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert 0 < saved_step < 120
    assert f"resuming from the checkpoint at step {saved_step} of 120" in done.stderr
    lineage = json.loads((ckpt.parent / "lineage.json").read_text())
    assert lineage["steps"] == 120 and len(lineage["loss_curve"]) == 120


def test_refusals_before_training(tmp_path: Path, tiny_data, smollm2_path: Path, capsys) -> None:
    train, held = tiny_data
    base = ["tune", "smollm2-135m", "--data", str(train), "--name", "x"]
    # Will not fit: an absurd batch of long examples is refused up front, with the fix.
    assert main([*base, "--batch-size", "200000", "--eval", str(held)]) == 5
    err = capsys.readouterr().err
    assert "training needs about" in err and "--batch-size" in err
    # Leakage between --data and --eval.
    assert main([*base, "--eval", str(train)]) == 2
    assert "also appear in the training data" in capsys.readouterr().err
    # Malformed data: file, line and field.
    bad = tmp_path / "bad.jsonl"
    bad.write_text(train.read_text().splitlines()[0] + "\n" + '{"messages": [{"role": "user"}]}\n')
    assert main(["tune", "smollm2-135m", "--data", str(bad), "--name", "x"]) == 2
    assert f"{bad}:2: messages[0].content: must be a non-empty string" in capsys.readouterr().err
    # An architecture the trainer cannot export: the error names what is supported.
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tinygguf import write_tiny

    falcon = write_tiny("falcon", tmp_path / "tiny-falcon.gguf", smollm2_path)
    assert main(["tune", str(falcon), "--data", str(train), "--name", "x"]) == 1
    err = capsys.readouterr().err
    assert "'falcon'" in err and "supported base architectures: llama" in err
    assert not (Path(os.environ["BAKEOFF_HOME"]) / "tuned").exists() or not any(
        (Path(os.environ["BAKEOFF_HOME"]) / "tuned").glob("*/lineage.json"))
