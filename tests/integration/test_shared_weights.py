"""A base model and its tuned variant (the same GGUF with a LoRA adapter on the context) share one
loaded llama.cpp model: the weights load once, and each answers exactly as it does alone."""

from __future__ import annotations

import pytest

from bakeoff.engines import GenParams, Message, collect, open_engine
from bakeoff.engines.llama_models import users
from bakeoff.engines.options import LoadOptions
from bakeoff.server.pool import ModelPool
from bakeoff.settings import Settings
from tuned_models import BASE, register_tuned

pytestmark = pytest.mark.slow
PROMPTS = ["Name three colors.", "What is the capital of France?"]
OPTIONS = LoadOptions(n_ctx=512, gpu_layers=0)


@pytest.fixture
def tuned_home(tmp_path, smollm2_path) -> tuple[Settings, str]:
    settings = Settings(home=tmp_path)
    (tmp_path / "models").mkdir()
    name, _, _ = register_tuned(settings, smollm2_path)
    return settings, name


def _answers(engine) -> list[str]:
    return [collect(engine.chat([Message(role="user", content=p)], GenParams(temperature=0, max_tokens=16))).text
            for p in PROMPTS]


def test_base_and_tuned_share_the_weights_and_answer_as_alone(tuned_home, smollm2_path) -> None:
    settings, tuned = tuned_home
    alone = {}
    for name in (BASE, tuned):
        engine = open_engine(name, OPTIONS, settings=settings)
        alone[name] = _answers(engine)
        engine.close()
    assert alone[tuned] != alone[BASE]   # the adapter changes greedy answers
    before = users(str(smollm2_path))
    base = open_engine(BASE, OPTIONS, settings=settings)
    try:
        first = _answers(base)                       # the model with no adapter loaded onto it yet
        tuned_engine = open_engine(tuned, OPTIONS, settings=settings)
        try:
            assert users(str(smollm2_path)) == before + 2    # one model, two contexts
            assert _answers(tuned_engine) == alone[tuned]
            assert first == _answers(base) == alone[BASE]    # its adapter stays on its own context
        finally:
            tuned_engine.close()
        assert users(str(smollm2_path)) == before + 1
        assert _answers(base) == alone[BASE]         # closing the tuned context left the model loaded
    finally:
        base.close()
    assert users(str(smollm2_path)) == before


def test_the_pool_counts_shared_weights_once(tuned_home, smollm2_path) -> None:
    settings, tuned = tuned_home
    probe = ModelPool(settings, slots=2, n_ctx=512)
    plan = probe._plan(probe._resolve(BASE))
    assert plan.weights_bytes == smollm2_path.stat().st_size
    # Room for the weights once and two KV caches, not for two whole models.
    budget = plan.bytes + (plan.bytes - plan.weights_bytes) + (1 << 20)
    assert budget < 2 * plan.bytes
    pool = ModelPool(settings.model_copy(update={"memory_budget_gb": budget / 2**30}), slots=2, n_ctx=512)
    try:
        pool.open_engine(BASE)
        pool.open_engine(tuned)
        assert pool.loaded() == [BASE, tuned]   # the base stayed: the tuned model added its KV cache only
    finally:
        pool.close()
