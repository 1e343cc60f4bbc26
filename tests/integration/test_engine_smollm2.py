"""The llama.cpp engine end to end on the real SmolLM2-135M."""

import json

import jsonschema
import pytest

from bakeoff.engines.base import GenParams, Message, collect
from bakeoff.errors import ContextOverflowError

Q = [Message(role="user", content="List three colours.")]


def test_greedy_with_seed_is_deterministic(smollm2_engine):
    p = GenParams(temperature=0, seed=7, max_tokens=24)
    a = collect(smollm2_engine.chat(Q, p))
    b = collect(smollm2_engine.chat(Q, p))
    assert a.text == b.text and a.text.strip()
    assert a.usage.completion_tokens == b.usage.completion_tokens <= 24


def test_sampling_with_the_same_seed_repeats(smollm2_engine):
    p = GenParams(temperature=1.0, seed=1234, max_tokens=24)
    assert collect(smollm2_engine.chat(Q, p)).text == collect(smollm2_engine.chat(Q, p)).text


def test_streaming_order_equals_the_collected_text(smollm2_engine):
    p = GenParams(temperature=0, max_tokens=40)
    chunks = list(smollm2_engine.complete("The three primary colours are", p))
    assert len(chunks) > 5
    assert chunks[-1].finish_reason in ("stop", "length") and chunks[-1].usage and chunks[-1].timings
    streamed = "".join(c.text for c in chunks)
    assert streamed == collect(smollm2_engine.complete("The three primary colours are", p)).text


def test_timings_and_usage_are_filled(smollm2_engine):
    r = collect(smollm2_engine.complete("Count: one, two, three,", GenParams(temperature=0, max_tokens=32)))
    assert r.usage.prompt_tokens == len(smollm2_engine.tokenize("Count: one, two, three,"))
    assert r.timings.ttft_s > 0 and r.timings.output_tps > 0 and r.timings.prompt_tps > 0


def test_stop_sequence_cuts_the_text(smollm2_engine):
    p = GenParams(temperature=0, max_tokens=60)
    full = collect(smollm2_engine.complete("Count: one, two, three,", p)).text
    word = full.split(",")[1]  # the word after the first comma
    assert word.strip()
    cut = collect(smollm2_engine.complete("Count: one, two, three,", p.model_copy(update={"stop": [","]})))
    assert cut.text == full.split(",")[0] and cut.finish_reason == "stop"


def test_json_schema_output_parses_and_validates(smollm2_engine):
    schema = {"type": "object", "properties": {"city": {"type": "string"}, "population": {"type": "integer"}},
              "required": ["city", "population"]}
    msgs = [Message(role="user", content="Describe Paris as JSON with city and population.")]
    r = collect(smollm2_engine.chat(msgs, GenParams(temperature=0, max_tokens=80, json_schema=schema)))
    jsonschema.validate(json.loads(r.text), schema)


def test_prompt_longer_than_the_context_names_both_lengths(smollm2_engine):
    long_prompt = "word " * 3000
    with pytest.raises(ContextOverflowError) as err:
        smollm2_engine.complete(long_prompt, GenParams(max_tokens=8))
    assert err.value.n_ctx == 2048 and err.value.prompt_tokens > 2048
    assert str(err.value.prompt_tokens) in str(err.value) and "2048" in str(err.value)


def test_max_tokens_is_capped_by_the_room_left(smollm2_engine):
    prompt = "word " * 2030
    r = collect(smollm2_engine.complete(prompt, GenParams(temperature=0, max_tokens=500)))
    assert r.usage.prompt_tokens + r.usage.completion_tokens <= 2048


def test_multi_turn_reuses_the_cached_prefix_in_whole_chunks(smollm2_engine):
    p = GenParams(temperature=0, max_tokens=8)
    notes = "Notes: the bakery opens at six, closes at four, and bakes rye on Tuesdays. " * 8
    first_turn = [Message(role="system", content=notes), *Q]
    first = collect(smollm2_engine.chat(first_turn, p))
    turn2 = first_turn + [Message(role="assistant", content=first.text), Message(role="user", content="Another one?")]
    r = collect(smollm2_engine.chat(turn2, p))
    n = len(smollm2_engine.chat_tokens(first_turn))
    # Reused up to the last 64-token chunk the first prompt filled (llama_lowlevel.GRID).
    assert r.timings.cached_prompt_tokens == n - n % 64 > 0


def test_text_that_is_not_unicode_is_tokenized_not_a_crash(smollm2_engine, capsys):
    """Bytes that are not UTF-8 in `bakeoff ask`'s arguments (a Latin-1 terminal: Python reads
    them as lone surrogates) failed with 'unexpected UnicodeEncodeError'; so did a chat template
    that renders one. They become U+FFFD, as undecodable bytes in model output do."""
    from bakeoff.cli.main import main

    assert smollm2_engine.tokenize("hi \udcff there") == smollm2_engine.tokenize("hi \ufffd there")
    assert main(["ask", "smollm2-135m", "hi \udcff there", "--max-tokens", "2"]) == 0
    assert "Unicode" not in capsys.readouterr().err
