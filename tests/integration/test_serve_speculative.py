"""Prompt lookup inside `bakeoff serve`'s batching scheduler, through the official openai client:
greedy answers at concurrency 1, 4 and 8 are the same with lookup on and off, on rewriting and
extraction prompts (drafts kept) and on story prompts (drafts rarely kept); /metrics counts the
drafted and accepted tokens."""

from __future__ import annotations

import asyncio

import httpx
import openai
import pytest

from bakeoff.settings import Settings
from serve_helpers import metric, running
from test_serve_openai import MODEL

TEXT = ("Bakeoff runs open models on your own cases, measures their speed and cost on this machine, "
        "and reports which one answers best, with the uncertainty of every number.")
PROMPTS = [
    f"Rewrite this text in the past tense, changing nothing else: {TEXT}",
    f"Repeat this text exactly: {TEXT}",
    "Extract the name and the email address as JSON: 'Contact Maria Lopez at maria.lopez@example.com "
    "about the invoice for March.'",
    "Correct the spelling in this sentence and return it: 'The quik brown fox jumpd over the lazzy dog "
    "while the farmer whatched from the porch.'",
    "Write a short story about a robot who learns to paint.",
    "Write a short story about a lighthouse keeper and a storm.",
    "Tell me a story about a dragon who is afraid of heights.",
    "Write a poem about autumn leaves.",
]
MAX_TOKENS = 40


def make(tmp_path_factory: pytest.TempPathFactory, speculative: bool):
    from bakeoff.server.app import create_app

    home = tmp_path_factory.mktemp("serve-spec")
    (home / "models").mkdir()
    return create_app(Settings(home=home, speculative=speculative), [MODEL], slots=8, n_ctx=1024)


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory):
    with running(make(tmp_path_factory, True)) as on, running(make(tmp_path_factory, False)) as off:
        yield on, off


def answers(url: str, concurrency: int, *, logprobs: bool = False) -> list[tuple]:
    """Each prompt's greedy chat answer, `concurrency` requests at a time; odd prompts stream."""
    client = openai.AsyncOpenAI(base_url=url + "/v1", api_key="x", max_retries=0)
    gate = asyncio.Semaphore(concurrency)

    async def one(i: int, p: str) -> tuple:
        kw = dict(model=MODEL, messages=[{"role": "user", "content": p}], max_tokens=MAX_TOKENS,
                  temperature=0, **({"logprobs": True, "top_logprobs": 2} if logprobs else {}))
        async with gate:
            if i % 2:
                stream = await client.chat.completions.create(stream=True, **kw)
                parts = [c.choices[0] async for c in stream if c.choices]
                lps = [(t.token, t.logprob) for c in parts if c.logprobs for t in c.logprobs.content or []]
                return "".join(c.delta.content or "" for c in parts), parts[-1].finish_reason, lps
            resp = await client.chat.completions.create(**kw)
            ch = resp.choices[0]
            lps = [(t.token, t.logprob) for t in (ch.logprobs.content if ch.logprobs else [])]
            return ch.message.content, ch.finish_reason, lps

    async def main() -> list[tuple]:
        return await asyncio.gather(*(one(i, p) for i, p in enumerate(PROMPTS)))

    return asyncio.run(main())


def drafts(url: str) -> tuple[float, float]:
    text = httpx.get(url + "/metrics").text
    return metric(text, "bakeoff_draft_tokens_total"), metric(text, "bakeoff_draft_accepted_tokens_total")


def test_greedy_answers_are_the_same_with_lookup_on_and_off_at_1_4_and_8_clients(servers) -> None:
    on, off = servers
    reference = answers(off, 1)
    assert all(finish == "length" or text for text, finish, _ in reference)
    for concurrency in (1, 4, 8):   # lookup off at 8 clients: the logprobs test below
        assert answers(on, concurrency) == reference, f"lookup on, {concurrency} clients"
    drafted, accepted = drafts(on)
    assert drafted > accepted > 0.3 * drafted   # the rewriting prompts copy much of themselves
    assert drafts(off) == (0, 0)
    assert "bakeoff_draft_acceptance_ratio{" in httpx.get(on + "/metrics").text


def test_logprobs_are_the_same_with_lookup_on_and_off(servers) -> None:
    on, off = servers
    a, b = answers(on, 8, logprobs=True), answers(off, 8, logprobs=True)
    assert a == b and all(len(lps) > 0 for _, _, lps in a)
