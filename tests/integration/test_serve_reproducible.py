"""`bakeoff serve` gives a greedy request the answer it gives it alone, whatever shares its batch:
through the official openai client, 8 concurrent rewriting requests (prompts of about 90 to 300
tokens, so at 8 clients they are evaluated in chunks that straddle decode steps and share them
with other requests' prompts and generated tokens, and answers run past 256 cells of KV cache)
equal the same requests sent one at a time, over rounds with different arrival orders."""

from __future__ import annotations

import asyncio

import openai
import pytest

from bakeoff.settings import Settings
from serve_helpers import running
from test_serve_openai import MODEL

PLACES = ["the harbour", "the old library", "the mountain station", "the night market"]
MAX_TOKENS = 64


def prompt(i: int) -> str:
    """A paragraph to rewrite, repeated 1..3 times (the answer copies most of it)."""
    text = (f"On day {i} the team met at {PLACES[i % 4]} at nine o'clock. They reviewed {i + 2} "
            f"reports, fixed the heating in room {100 + i}, and ordered new chairs for the hall. "
            f"After lunch they walk to {PLACES[(i + 1) % 4]} again and write a short summary for "
            f"the director, who reads it the next morning and asks for {i % 5 + 1} more copies. ")
    return "Rewrite the following text in the past tense and change nothing else:\n\n" + text * (i % 3 + 1)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    from bakeoff.server.app import create_app

    home = tmp_path_factory.mktemp("serve-repro")
    (home / "models").mkdir()
    # BAKEOFF_EXACT_BATCHES=1 (off by default: it moves log-likelihoods, see settings.py)
    with running(create_app(Settings(home=home, exact_batches=True), [MODEL], slots=8, n_ctx=1024)) as url:
        yield url


def answers(url: str, order: list[int], concurrency: int, stagger: float = 0.0) -> dict[int, str]:
    """Greedy answers to the prompts in `order`, `concurrency` at a time; request k starts
    k * stagger seconds late (so requests join while others are mid-prompt or generating)."""
    client = openai.AsyncOpenAI(base_url=url + "/v1", api_key="x", max_retries=0)
    gate = asyncio.Semaphore(concurrency)

    async def one(k: int, i: int) -> tuple[int, str]:
        await asyncio.sleep(k * stagger)
        async with gate:
            resp = await client.chat.completions.create(
                model=MODEL, messages=[{"role": "user", "content": prompt(i)}], max_tokens=MAX_TOKENS,
                temperature=0)
            return i, resp.choices[0].message.content or ""

    async def main() -> dict[int, str]:
        return dict(await asyncio.gather(*(one(k, i) for k, i in enumerate(order))))

    return asyncio.run(main())


def test_concurrent_greedy_answers_equal_the_same_requests_served_alone(server) -> None:
    alone = answers(server, list(range(8)), 1)
    assert all(len(a) > 40 for a in alone.values())
    rounds = [(list(range(8)), 0.0), ([3, 0, 6, 1, 7, 2, 5, 4], 0.1)]
    for order, stagger in rounds:
        got = answers(server, order, 8, stagger)
        differ = [i for i in order if got[i] != alone[i]]
        assert not differ, f"order {order}, stagger {stagger}s: requests {differ} differ from alone"
