"""A tuned model and its merged file served beside their base by one `bakeoff serve`: the client
picks base, tuned (adapter applied at load time) or merged per request, by model name."""

from __future__ import annotations

import numpy as np
import openai
import pytest

from bakeoff.settings import Settings
from serve_helpers import running

BASE = "SmolLM2-135M-Instruct-Q4_1"
PROMPT = [{"role": "user", "content": "Name three colors."}]


def register_tuned(settings: Settings, smollm2_path) -> tuple[str, str]:
    """BASE+x with a random adapter strong enough to change greedy answers, and its merged file."""
    from bakeoff.models.filehash import file_sha256
    from bakeoff.tune.export import BaseShape, LoraPair, write_adapter
    from bakeoff.tune.merge import merge_tuned
    from bakeoff.tune.registry import ADAPTER_FILE, Lineage, tuned_dir, write_lineage

    rng = np.random.default_rng(0)
    pairs = [LoraPair(f"model.layers.{i}.self_attn.{m}", rng.normal(0, 0.05, (8, 576)).astype(np.float32),
                      rng.normal(0, 0.02, (out, 8)).astype(np.float32))
             for i in range(30) for m, out in (("q_proj", 576), ("v_proj", 192))]
    folder = tuned_dir(settings, f"{BASE}+x")
    folder.mkdir(parents=True)
    write_adapter(folder / ADAPTER_FILE, pairs, BaseShape("llama", 30, 9, 3), 16.0)
    lineage = Lineage(name=f"{BASE}+x", base=BASE, base_path=str(smollm2_path),
                      base_sha256=file_sha256(str(smollm2_path), settings), adapter_sha256="0" * 64,
                      data_files=["none"], data_sha256="0" * 64, n_train=0, n_eval=0, hyperparameters={},
                      loss_curve=[], steps=0, train_seconds=0.0, train_tokens=0, versions={},
                      created="2026-12-01T00:00:00+00:00")
    write_lineage(folder, lineage)
    merged, _ = merge_tuned(lineage, folder, "same", settings)
    return f"{BASE}+x", merged.name


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, smollm2_path):
    from bakeoff.server.app import create_app

    settings = Settings(home=tmp_path_factory.mktemp("serve-tuned"))
    (settings.home / "models").mkdir()
    tuned, merged = register_tuned(settings, smollm2_path)
    with running(create_app(settings, models=["smollm2-135m", tuned, merged], slots=2, n_ctx=512)) as url:
        yield openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0), tuned, merged


def test_base_tuned_and_merged_are_a_request_time_choice(served) -> None:
    client, tuned, merged = served
    listed = {m.id for m in client.models.list().data}
    assert {BASE, tuned, merged} <= listed
    answers = {}
    for model in (BASE, tuned, merged):
        resp = client.chat.completions.create(model=model, messages=PROMPT, temperature=0, max_tokens=12)
        assert resp.model == model and resp.usage.completion_tokens > 0
        answers[model] = resp.choices[0].message.content
    assert answers[tuned] != answers[BASE]          # the adapter is applied to this request only
    print(answers)
