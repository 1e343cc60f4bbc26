"""Benchmark scripts leave nothing in TMPDIR: the tune example left a tune-data-* folder (and its
store, with adapters and merged models) after every run, finished or failed."""

from __future__ import annotations

import importlib.util
import sys
import tempfile
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tune_example_removes_its_scratch_folders(tmp_path, monkeypatch) -> None:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    monkeypatch.setenv("BAKEOFF_HOME", str(tmp_path / "home"))   # restored after the test
    monkeypatch.setattr(sys, "argv", ["tune_example.py", "--train-limit", "2"])
    tune_example = _load("tune_example")
    seen = []

    def fail_midway(args, folder: Path):
        seen.append(sorted(p.name for p in folder.iterdir()))
        raise RuntimeError("training failed")

    monkeypatch.setattr(tune_example, "run_tune", fail_midway)
    with pytest.raises(RuntimeError):
        tune_example.main()
    assert seen == [[]]                      # the run had its folder
    assert list(scratch.iterdir()) == []     # and nothing of it is left
