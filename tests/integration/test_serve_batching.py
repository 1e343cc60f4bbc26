"""Continuous batching over HTTP: concurrent streams without cross-talk, lm-eval-style scoring,
a bounded queue (429 + Retry-After) and a disconnect that frees its slot at once."""

from __future__ import annotations

import asyncio
import math
import threading
import time

import httpx
import numpy as np
import openai
import pytest

from bakeoff.engines.base import Engine
from bakeoff.engines.llamacpp import LlamaCppEngine, log_softmax
from serve_helpers import metric, running
from test_serve_openai import MODEL, count_prompt, make_app, server  # noqa: F401 - fixture


@pytest.fixture(scope="module")
def tiny_server(tmp_path_factory: pytest.TempPathFactory):
    """One slot and a queue of one."""
    app = make_app(tmp_path_factory, models=[MODEL], slots=1, max_queue=1, n_ctx=2048)
    with running(app) as url:
        yield url


def test_16_concurrent_streams_match_their_serial_outputs(server: str) -> None:  # noqa: F811 - the fixture
    # Counting continuations are confident, so batch-size-dependent float rounding cannot flip a
    # greedy choice; any cross-talk between sequences would show as another prompt's numbers.
    prompts = [count_prompt(7 * i + 3) for i in range(16)]
    client = openai.OpenAI(base_url=server + "/v1", api_key="x", max_retries=0)
    serial = [client.completions.create(model=MODEL, prompt=p, max_tokens=8, temperature=0).choices[0].text
              for p in prompts]

    async def one(aclient: openai.AsyncOpenAI, p: str) -> str:
        stream = await aclient.completions.create(model=MODEL, prompt=p, max_tokens=8, temperature=0,
                                                  stream=True)
        return "".join([c.choices[0].text async for c in stream if c.choices])

    async def main() -> list[str]:
        aclient = openai.AsyncOpenAI(base_url=server + "/v1", api_key="x", max_retries=0)
        return await asyncio.gather(*(one(aclient, p) for p in prompts))

    steps_before = metric(httpx.get(server + "/metrics").text, "bakeoff_batch_steps_total")
    together = asyncio.run(main())
    steps = metric(httpx.get(server + "/metrics").text, "bakeoff_batch_steps_total") - steps_before
    assert together == serial
    assert all(s.startswith(f" {7 * i + 8},") for i, s in enumerate(serial))
    assert steps < 16 * 8 / 2  # decoded together: far fewer steps than one per token per stream


def reference_loglik(path: str, ctx: list[int], cont: list[int]) -> tuple[float, bool]:
    """Token by token, one decode per token, on a fresh engine: the straightforward definition."""
    from bakeoff.models.ref import ModelRef

    eng = LlamaCppEngine(ModelRef(name="ref", engine="llamacpp", source="test", path=path), n_ctx=512)
    try:
        tokens, total, greedy = ctx + cont, 0.0, True
        for i in range(len(tokens) - 1):
            eng.h.decode([tokens[i]], [i], [0], [True])
            if i + 1 >= len(ctx):
                lps = log_softmax(eng.h.logits(0))
                total += float(lps[tokens[i + 1]])
                greedy &= int(np.argmax(lps)) == tokens[i + 1]
        if type(eng).loglikelihood is not Engine.loglikelihood:  # the engine's own, once it has one
            from bakeoff.engines.base import LogLikRequest

            own = eng.loglikelihood([LogLikRequest(eng.detokenize(ctx), eng.detokenize(cont))])[0]
            assert own.logprob == pytest.approx(total, abs=0.05)
        return total, greedy
    finally:
        eng.close()


@pytest.mark.parametrize("max_tokens", [1, 0])
def test_lm_eval_local_completions_loglikelihood(server: str, smollm2_engine, smollm2_path,  # noqa: F811 - the fixture
                                                  max_tokens: int) -> None:
    pairs = [("The capital of France is", " Paris"), ("Water boils at 100 degrees", " Celsius in the sea")]
    toks = [(smollm2_engine.tokenize(c), smollm2_engine.tokenize(x, add_special=False)) for c, x in pairs]
    # What lm-evaluation-harness's local-completions sends for loglikelihood requests.
    body = {"model": MODEL, "prompt": [c + x for c, x in toks], "temperature": 0, "max_tokens": max_tokens,
            "logprobs": 1, "seed": 1234, "echo": True}
    out = httpx.post(server + "/v1/completions", json=body, timeout=120).json()
    for choice, (ctx, cont) in zip(sorted(out["choices"], key=lambda c: c["index"]), toks):
        lp = choice["logprobs"]
        assert len(lp["token_logprobs"]) == len(ctx) + len(cont) + max_tokens
        end = len(lp["token_logprobs"]) - max_tokens  # lm-eval slices [ctxlen:-1] with max_tokens=1
        got = sum(lp["token_logprobs"][len(ctx):end])
        greedy = all(t == max(top.values()) for t, top in
                     zip(lp["token_logprobs"][len(ctx):end], lp["top_logprobs"][len(ctx):end]))
        want, want_greedy = reference_loglik(str(smollm2_path), ctx, cont)
        assert got == pytest.approx(want, abs=0.05)
        assert greedy == want_greedy
        assert lp["token_logprobs"][0] is None and not math.isnan(got)


def stream_until_first_chunk(url: str, max_tokens: int):
    client = httpx.Client(timeout=120)
    body = {"model": MODEL, "prompt": count_prompt(1), "max_tokens": max_tokens, "temperature": 0, "stream": True}
    resp = client.send(client.build_request("POST", url + "/v1/completions", json=body), stream=True)
    lines = resp.iter_lines()
    next(ln for ln in lines if ln.startswith("data:"))
    return client, resp, lines  # dropping `lines` would close the stream


def wait_for(url: str, name: str, value: float, timeout: float = 10.0) -> float:
    deadline = time.time() + timeout
    while True:
        got = metric(httpx.get(url + "/metrics").text, name)
        if got == value or time.time() > deadline:
            return got
        time.sleep(0.05)


def test_queue_full_429_then_disconnect_frees_the_slot(tiny_server: str) -> None:
    client, resp, _lines = stream_until_first_chunk(tiny_server, 1500)  # holds the only slot
    assert wait_for(tiny_server, "bakeoff_active_sequences", 1) == 1
    waiting: dict = {}
    t = threading.Thread(target=lambda: waiting.update(r=httpx.post(
        tiny_server + "/v1/completions", json={"model": MODEL, "prompt": "Hi", "max_tokens": 2}, timeout=120)))
    t.start()
    assert wait_for(tiny_server, "bakeoff_queue_depth", 1) == 1
    full = httpx.post(tiny_server + "/v1/completions", json={"model": MODEL, "prompt": "Hi", "max_tokens": 2})
    assert full.status_code == 429 and int(full.headers["retry-after"]) >= 1
    assert full.json()["error"]["type"] == "rate_limit_error"
    t0 = time.time()
    resp.close()  # the client goes away mid-stream (1500 tokens would take minutes here)
    client.close()
    t.join(timeout=60)
    assert waiting["r"].status_code == 200  # the queued request got the freed slot
    assert time.time() - t0 < 30
    assert wait_for(tiny_server, "bakeoff_active_sequences", 0) == 0
    assert metric(httpx.get(tiny_server + "/metrics").text, "bakeoff_queue_depth") == 0



def test_prefix_of_a_busy_sequence_is_copied_to_a_new_one(server: str, smollm2_engine: Engine) -> None:  # noqa: F811 - the fixture
    # With the cache split per slot, a shared prefix lives in another sequence's stream: the new
    # request gets a copy of it (reported as cached prompt tokens) and must answer exactly as a
    # fresh engine that evaluated the whole prompt itself.
    from bakeoff.engines.base import GenParams, collect

    preamble = "Numbers in order, separated by commas: " + count_prompt(500) + " " + count_prompt(505) + " "
    first, second = preamble + count_prompt(910), preamble + count_prompt(310)
    want = collect(smollm2_engine.complete(second, GenParams(max_tokens=6, temperature=0, logprobs=1)))
    client = openai.OpenAI(base_url=server + "/v1", api_key="x", max_retries=0)
    body = {"model": MODEL, "prompt": first, "max_tokens": 1000, "temperature": 0, "stream": True}
    with httpx.Client(timeout=120) as http, http.stream("POST", server + "/v1/completions", json=body) as resp:
        next(ln for ln in resp.iter_lines() if ln.startswith("data:"))  # `first` holds its slot now
        got = client.completions.create(model=MODEL, prompt=second, max_tokens=6, temperature=0, logprobs=1)
    n_shared = len(smollm2_engine.tokenize(preamble)) - 2  # the last tokens may merge across the seam
    assert got.usage.prompt_tokens_details.cached_tokens >= n_shared
    assert got.choices[0].text == want.text
    # Without the preamble's KV entries the numbers still continue, but less surely (measured: log-
    # probabilities off by 0.05-0.12 when the copy is skipped, within 0.01 with it).
    assert got.choices[0].logprobs.token_logprobs == pytest.approx([t.logprob for t in want.logprobs], abs=0.03)


def test_full_shared_cache_stops_only_the_newest_request(smollm2_path) -> None:
    # One pool of 256 cells shared by two sequences: each request fits alone, both together do not.
    # The older one must finish in full; the newer one gets a retryable "busy" error.
    from bakeoff.engines.base import GenParams, collect
    from bakeoff.engines.batching import BatchedEngine
    from bakeoff.errors import BusyError
    from bakeoff.models.ref import ModelRef

    ref = ModelRef(name="smol", engine="llamacpp", source="test", path=str(smollm2_path))
    eng = BatchedEngine(LlamaCppEngine(ref, n_ctx=256, n_seq_max=2, kv_unified=True, n_threads=1))
    try:
        params = GenParams(max_tokens=200, temperature=0, stop=[])
        older = eng.complete(count_prompt(10), params)
        first = next(older)  # the older request is generating before the newer one arrives
        newer = eng.complete(count_prompt(20), params)
        out: dict = {}
        worker = threading.Thread(target=lambda: out.update(old=collect(iter([first, *older]))))
        worker.start()
        with pytest.raises(BusyError, match="newest request was stopped"):
            collect(newer)
        worker.join(60)
        assert out["old"].usage.completion_tokens == 200 and out["old"].finish_reason == "length"
        again = collect(eng.complete(count_prompt(30), GenParams(max_tokens=8, temperature=0)))
        assert again.text.startswith(" 35,")  # the evicted sequence's cells were freed
    finally:
        eng.close()
