"""`bakeoff pull` against a loopback server in the Hugging Face Hub's URL layout (HF_ENDPOINT)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bakeoff.catalog.queries import repo_estimates
from bakeoff.cli.main import main
from bakeoff.models import fit
from bakeoff.models.pull import RemoteFile, choose_file
from bakeoff.models.registry import Registry
from hubserver import Hub
from tinygguf import write_tiny

REPO = "test-org/Tiny-GGUF"


@pytest.fixture(scope="module")
def tiny_file(tmp_path_factory: pytest.TempPathFactory, smollm2_path: Path) -> Path:
    # 27 MB: more than huggingface_hub's 10 MiB write chunk, so a cut-off transfer leaves bytes.
    return write_tiny("llama", tmp_path_factory.mktemp("hub") / "tiny.gguf", smollm2_path)


def _pull(capsys, *args: str) -> tuple[int, dict | None, str]:
    code = main(["pull", *args, "--json"])
    out = capsys.readouterr()
    return code, json.loads(out.out) if code == 0 else None, out.err


def test_pull_named_file_verifies_and_registers(tiny_file: Path, monkeypatch, capsys) -> None:
    with Hub({REPO: {"tiny.Q8_0.gguf": tiny_file}}) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        code, out, err = _pull(capsys, f"{REPO}:tiny.Q8_0.gguf")
        assert code == 0, err
        assert out["verified"] and out["sha256"] == hashlib.sha256(tiny_file.read_bytes()).hexdigest()
        assert Registry().resolve("tiny.Q8_0").path == out["path"]    # usable by name at once
        code, _, err = _pull(capsys, f"{REPO}:missing.gguf")
        assert code == 3 and "tiny.Q8_0.gguf" in err
        code, _, err = _pull(capsys, "test-org/no-such-repo")
        assert code == 3 and "no-such-repo" in err


def test_pull_without_file_picks_the_recommended_quantization(tiny_file: Path, monkeypatch, capsys) -> None:
    files = {f"tiny-{q}.gguf": tiny_file for q in ("Q4_K_M", "Q8_0", "F16")}
    with Hub({REPO: files}) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        code, out, err = _pull(capsys, REPO)
        assert code == 0, err
        # A tiny model: Q8_0 is small enough to be fast on a CPU; F16 would only be slower.
        assert out["file"] == "tiny-Q8_0.gguf" and "recommended" in out["reason"]
    remote = [RemoteFile("m-Q4_K_M.gguf", 4 << 30, None), RemoteFile("m-Q8_0.gguf", 8 << 30, None),
              RemoteFile("m-F16.gguf", 15 << 30, None), RemoteFile("README.md", 10, None)]
    assert choose_file("x/y", remote, available=8 << 30)[0].name == "m-Q4_K_M.gguf"
    assert choose_file("x/y", remote, available=64 << 30)[0].name == "m-Q4_K_M.gguf"  # never F16 on a CPU
    # A repo the catalog knows is judged with the catalog's estimate for that model.
    monkeypatch.setattr(fit, "available_bytes", lambda: 1 << 30)
    qwen = [RemoteFile(f"qwen2.5-0.5b-instruct-{q.lower()}.gguf", 1, None) for q in ("Q4_K_M", "Q8_0", "F16")]
    known = repo_estimates("Qwen/Qwen2.5-0.5B-Instruct-GGUF")
    assert choose_file("Qwen/Qwen2.5-0.5B-Instruct-GGUF", qwen, estimates=known)[0].quant == "Q8_0"


def test_pull_takes_the_smallest_quantization_a_sweep_here_supports(tiny_file: Path, monkeypatch, capsys) -> None:
    from bakeoff.store.db import connect
    from bakeoff.store.quants import save_quant_report
    from quantsweep import Q5_EVIDENCE, sweep

    files = {f"tiny-{q}.gguf": tiny_file for q in ("Q4_K_M", "Q5_K_M", "Q8_0")}
    with Hub({REPO: files}) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        code, out, err = _pull(capsys, REPO)               # no sweep of this model: the rule, said so
        assert code == 0, err
        assert out["file"] == "tiny-Q8_0.gguf" and out["quant_evidence"] is None
        assert "effect on quality is unknown here" in out["reason"] and "bakeoff quants" in out["reason"]
        db = connect()
        kept = save_quant_report(db, sweep({"general.name": "Tiny"}))   # Q4_K_M worse, Q5_K_M not
        db.close()
        code, out, err = _pull(capsys, REPO)
        assert code == 0, err
        assert out["file"] == "tiny-Q5_K_M.gguf" and out["quant_evidence"] == kept
        assert "smallest quantization measured here as not significantly worse than Q8_0" in out["reason"]
        assert Q5_EVIDENCE in out["reason"]
        assert main(["pull", REPO]) == 0
        shown = capsys.readouterr().out
        assert "why this file: Q5_K_M: the smallest quantization measured here" in shown
        code, out, _ = _pull(capsys, f"{REPO}:Q4_K_M")      # a named quantization is never overridden
        assert out["file"] == "tiny-Q4_K_M.gguf" and out["quant_evidence"] is None


def test_killed_pull_resumes_where_it_stopped(tiny_file: Path, bakeoff_home: Path, monkeypatch, capsys) -> None:
    from huggingface_hub.constants import DOWNLOAD_CHUNK_SIZE

    # Cut the transfer just past one write chunk, so the killed process leaves bytes on disk.
    stall = DOWNLOAD_CHUNK_SIZE + (1 << 20)
    assert tiny_file.stat().st_size > stall
    with Hub({REPO: {"tiny.gguf": tiny_file}}, stall_after=stall) as hub:
        env = {**os.environ, "HF_ENDPOINT": hub.url}
        proc = subprocess.Popen([sys.executable, "-m", "bakeoff.cli.main", "pull", f"{REPO}:tiny.gguf"],
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        part = bakeoff_home / "models" / "pulled" / REPO.replace("/", "__") / "tiny.gguf.part"
        deadline = time.time() + 120
        while not (part.exists() and part.stat().st_size > 0) and time.time() < deadline:
            time.sleep(0.05)
        proc.kill()          # the user hits Ctrl-C twice / the laptop sleeps: no clean shutdown
        proc.wait()
        done = part.stat().st_size
        assert 0 < done < tiny_file.stat().st_size
        hub.release.set()
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        code, out, err = _pull(capsys, f"{REPO}:tiny.gguf")
        assert code == 0, err
        assert out["resumed_from"] == done and out["verified"]
        assert hub.requests[-1]["range"] == f"bytes={done}-"
        assert Path(out["path"]).read_bytes() == tiny_file.read_bytes() and not part.exists()


def test_checksum_mismatch_deletes_the_file(tiny_file: Path, monkeypatch, capsys) -> None:
    with Hub({REPO: {"tiny.gguf": tiny_file}}, sha_override="0" * 64) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        code, _, err = _pull(capsys, f"{REPO}:tiny.gguf")
    assert code == 6 and "SHA-256" in err and "deleted" in err
    assert not list(Path(os.environ["BAKEOFF_HOME"]).rglob("tiny.gguf"))


def test_offline_fails_fast_with_a_clear_message(monkeypatch, capsys) -> None:
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")     # nothing listens on the discard port
    t0 = time.monotonic()
    code, _, err = _pull(capsys, f"{REPO}:tiny.gguf")
    assert code == 6 and "cannot reach the Hugging Face Hub" in err and "Traceback" not in err
    assert time.monotonic() - t0 < 10


@pytest.mark.parametrize("name", ["../../../../escaped.gguf", "sub/../../../../../escaped.gguf",
                                  "/tmp/escaped.gguf", "..\\..\\escaped.gguf",
                                  "title\x1b]2;pwned\x07.gguf", "nul\x00.gguf"])
def test_a_hub_file_name_cannot_escape_the_models_folder(name, bakeoff_home: Path, tmp_path: Path,
                                                         monkeypatch, capsys) -> None:
    payload = tmp_path / "payload.gguf"
    payload.write_bytes(b"GGUF" + bytes(60))
    outside = [bakeoff_home.parent / "escaped.gguf", Path("/tmp/escaped.gguf")]
    try:
        with Hub({REPO: {name: payload}}) as hub:
            monkeypatch.setenv("HF_ENDPOINT", hub.url)
            for spec in (f"{REPO}:{name}", REPO):     # named, and chosen automatically
                code, _, err = _pull(capsys, spec)
                assert code == 6 and "unsafe file name" in err, err
        assert not [p for p in outside if p.exists()]
        assert not [r for r in hub.requests if "/resolve/" in r["path"]]   # nothing was downloaded
    finally:  # a regression must not litter the machine
        for p in outside:
            p.unlink(missing_ok=True)


def test_hub_subfolders_are_kept_inside_the_models_folder(bakeoff_home: Path, tmp_path: Path) -> None:
    from bakeoff.models.pull import local_target

    folder = bakeoff_home / "models" / "pulled" / "o__r"
    assert local_target(folder, "Q4_K_M/m-00001-of-00002.gguf") == folder / "Q4_K_M" / "m-00001-of-00002.gguf"
    folder.mkdir(parents=True)
    (folder / "link").symlink_to(tmp_path)
    with pytest.raises(Exception, match="outside"):
        local_target(folder, "link/m.gguf")
