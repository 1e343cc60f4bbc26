"""A tuned model and its merged file served beside their base by one `bakeoff serve`: the client
picks base, tuned (adapter applied at load time) or merged per request, by model name."""

from __future__ import annotations

import openai
import pytest

from bakeoff.settings import Settings
from serve_helpers import running
from tuned_models import BASE, register_tuned

PROMPT = [{"role": "user", "content": "Name three colors."}]


def register_tuned_and_merged(settings: Settings, smollm2_path) -> tuple[str, str]:
    """BASE+x with a random adapter strong enough to change greedy answers, and its merged file."""
    from bakeoff.tune.merge import merge_tuned

    tuned, folder, lineage = register_tuned(settings, smollm2_path)
    merged, _ = merge_tuned(lineage, folder, "same", settings)
    return tuned, merged.name


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, smollm2_path):
    from bakeoff.server.app import create_app

    settings = Settings(home=tmp_path_factory.mktemp("serve-tuned"))
    (settings.home / "models").mkdir()
    tuned, merged = register_tuned_and_merged(settings, smollm2_path)
    with running(create_app(settings, models=["smollm2-135m", tuned, merged], slots=2, n_ctx=512)) as url:
        yield openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0), tuned, merged


def test_base_tuned_and_merged_are_a_request_time_choice(served, smollm2_path) -> None:
    from bakeoff.engines.llama_models import users

    client, tuned, merged = served
    listed = {m.id for m in client.models.list().data}
    assert {BASE, tuned, merged} <= listed
    before = users(str(smollm2_path))
    answers = {}
    for model in (BASE, tuned, merged):
        resp = client.chat.completions.create(model=model, messages=PROMPT, temperature=0, max_tokens=12)
        assert resp.model == model and resp.usage.completion_tokens > 0
        answers[model] = resp.choices[0].message.content
    assert answers[tuned] != answers[BASE]          # the adapter is applied to this request only
    assert users(str(smollm2_path)) == before + 2   # base and tuned: one loaded model, two contexts
    again = client.chat.completions.create(model=BASE, messages=PROMPT, temperature=0, max_tokens=12)
    assert again.choices[0].message.content == answers[BASE]   # unchanged beside its tuned variant
    print(answers)
