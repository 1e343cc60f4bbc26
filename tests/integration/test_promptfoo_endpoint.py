"""A promptfoo config's `openai:chat:MODEL` provider with apiBaseUrl runs against that endpoint: here
`bakeoff serve` with SmolLM2-135M on loopback, with the provider's own settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from bakeoff.evals.formats.loader import load
from bakeoff.evals.runner import RunOptions, run_suite
from bakeoff.settings import Settings
from bakeoff.store import connect
from bakeoff.store.evals import get_run
from serve_helpers import running


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory):
    from bakeoff.server.app import create_app

    home = tmp_path_factory.mktemp("serve-home")
    (home / "models").mkdir()
    with running(create_app(Settings(home=home), models=["smollm2-135m"], slots=2, n_ctx=2048)) as url:
        yield url


def test_openai_chat_provider_runs_on_the_endpoint(served: str, tmp_path: Path) -> None:
    cfg = tmp_path / "promptfooconfig.yaml"
    cfg.write_text(f"""\
prompts: ["Answer in one word: what is the capital of {{{{country}}}}?"]
providers:
  - id: openai:chat:smollm2-135m
    label: served-smollm2
    config: {{apiBaseUrl: "{served}/v1", max_tokens: 12, temperature: 0}}
tests:
  - vars: {{country: France}}
    assert: [{{type: icontains, value: paris}}]
  - vars: {{country: Japan}}
    assert: [{{type: word-count, value: {{max: 12}}}}]
""")
    suite = load(cfg)
    assert [c.ref.name for c in suite.contestants] == ["served-smollm2"]
    run = get_run(connect(), run_suite(suite, None, RunOptions(speed=False)))
    assert [m["status"] for m in run["model_rows"]] == ["done"]
    results = {r["case_id"]: r for r in run["results"]}
    assert results["test-1"]["status"] == "pass" and "Paris" in results["test-1"]["output"]
    # the provider's max_tokens reached the endpoint: at most 12 tokens came back
    assert all(r["usage"]["completion_tokens"] <= 12 for r in results.values())
