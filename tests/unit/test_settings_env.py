"""BAKEOFF_* environment variables: lists written as people write PATH, and a bad value is a clear
error naming the variable (it was "unexpected SettingsError" / a raw pydantic dump)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bakeoff.cli.main import main
from bakeoff.settings import get_settings, reset_settings


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch):
    def set_(**values: str) -> None:
        for k, v in values.items():
            monkeypatch.setenv(k, v)
        reset_settings()
    yield set_
    reset_settings()


def test_lists_as_separated_items_or_json(env) -> None:
    env(BAKEOFF_MODEL_DIRS=os.pathsep.join(["/models/a", "/models/b"]), BAKEOFF_SOURCES="ollama, hf")
    s = get_settings()
    assert s.model_dirs == [Path("/models/a"), Path("/models/b")] and s.sources == ["ollama", "hf"]
    env(BAKEOFF_MODEL_DIRS='["/models/c"]', BAKEOFF_SOURCES='["lmstudio"]')
    s = get_settings()
    assert s.model_dirs == [Path("/models/c")] and s.sources == ["lmstudio"]


@pytest.mark.parametrize("var, value", [("BAKEOFF_THREADS", "abc"), ("BAKEOFF_MODEL_DIRS", "[oops"),
                                        ("BAKEOFF_GPU_LAYERS", "-3")])
def test_a_bad_value_names_the_variable(env, capsys: pytest.CaptureFixture, var: str, value: str) -> None:
    env(**{var: value})
    assert main(["models"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {var}=") and "unexpected" not in err and "errors.pydantic.dev" not in err
