"""The server's model pool: models load on first use, the least recently used one is unloaded to
stay within the memory budget, and the KV cache layout follows its size."""

from __future__ import annotations

import os
import shutil

import pytest

from bakeoff.engines.llamacpp import SPLIT_KV_BYTES
from bakeoff.server.pool import ModelPool
from bakeoff.settings import Settings

pytestmark = pytest.mark.slow


def copy_file(src, dst) -> None:
    """A hard link where the file system allows (another path, so another model to llama.cpp)."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def test_memory_budget_unloads_the_least_recently_used_model(tmp_path, smollm2_path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    for name in ("alpha", "beta", "gamma"):   # three files (links to one would share their weights)
        copy_file(smollm2_path, models / f"{name}.gguf")
    probe = ModelPool(Settings(home=tmp_path), slots=2, n_ctx=512)
    one = probe.footprint(probe._resolve("alpha"))
    assert one > smollm2_path.stat().st_size  # the file plus its KV cache
    pool = ModelPool(Settings(home=tmp_path, memory_budget_gb=2.5 * one / 2**30), slots=2, n_ctx=512)
    try:
        a = pool.open_engine("alpha")
        pool.open_engine("beta")
        assert pool.open_engine("alpha") is a  # still loaded, now the most recently used
        pool.open_engine("gamma")                # room for two: beta goes
        assert pool.loaded() == ["alpha", "gamma"]
        pool.open_engine("beta")                 # and now alpha, used before gamma
        assert pool.loaded() == ["gamma", "beta"]
    finally:
        pool.close()


def test_kv_cache_split_per_slot_when_small_shared_when_large(tmp_path, smollm2_path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    (models / "alpha.gguf").symlink_to(smollm2_path)
    small = ModelPool(Settings(home=tmp_path), slots=4, n_ctx=1024)
    ref = small._resolve("alpha")
    assert small.kv_layout(ref) == {"n_ctx": 4096, "kv_unified": False}
    eng = small.open_engine("alpha")
    try:
        assert eng.n_ctx == 1024  # what one request may use: its own share, all of --ctx
    finally:
        small.close()
    # SmolLM2 needs about 23 KiB of KV per position: 64 slots x 8192 positions is far over the limit.
    big = ModelPool(Settings(home=tmp_path), slots=64, n_ctx=8192)
    assert big.kv_layout(ref) == {"n_ctx": 8192, "kv_unified": True}
    assert SPLIT_KV_BYTES < 64 * 8192 * 23 * 1024


def test_a_model_over_the_memory_budget_is_a_507_that_says_how_to_fix_it(tmp_path, smollm2_path) -> None:
    import httpx
    import openai

    from bakeoff.server.app import create_app
    from serve_helpers import running

    models = tmp_path / "models"
    models.mkdir()
    (models / "alpha.gguf").symlink_to(smollm2_path)
    settings = Settings(home=tmp_path, memory_budget_gb=0.01)   # 10 MiB: SmolLM2 alone is ~90
    with running(create_app(settings, ["alpha"], slots=2, n_ctx=512)) as url:
        client = openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0)
        with pytest.raises(openai.APIStatusError) as err:
            client.chat.completions.create(model="alpha", messages=[{"role": "user", "content": "hi"}])
        loaded = httpx.get(url + "/health").json()["loaded"]
    assert err.value.status_code == 507
    body = err.value.body
    assert body["code"] == "insufficient_memory" and body["type"] == "server_error"
    assert "alpha with its KV cache for 2 slot(s) needs about" in body["message"]
    assert "the server's memory budget is 10 MiB" in body["message"]
    assert "BAKEOFF_MEMORY_BUDGET_GB" in body["message"] and str(tmp_path) not in body["message"]
    assert loaded == []   # refused before loading
