"""Prompt-lookup speculative decoding on the real SmolLM2-135M gives plain decoding's answers."""

from __future__ import annotations

import json

import pytest

from bakeoff.engines import LoadOptions, open_engine
from bakeoff.engines.base import GenParams, collect
from bakeoff.models.ref import ModelRef
from bakeoff.settings import reset_settings
from cli_run import run, run_json
from spec_cases import COPY, draft_eagerly, same_answers_on_cases, seed_eager_costs


@pytest.fixture(scope="module")
def engines(smollm2_path):
    ref = ModelRef(name="SmolLM2-135M-Instruct-Q4_1", engine="llamacpp", source="packaged",
                   path=str(smollm2_path))
    plain = open_engine(ref, LoadOptions(n_ctx=2048, speculative=False))
    fast = draft_eagerly(open_engine(ref, LoadOptions(n_ctx=2048, speculative=True)))
    yield plain, fast
    plain.close()
    fast.close()


def test_starter_cases_answer_the_same_with_and_without_speculation(engines):
    plain, fast = engines
    timings = same_answers_on_cases(plain, fast)
    drafted = sum(t.draft_tokens for t in timings)
    accepted = sum(t.accepted_tokens for t in timings)
    assert 0 < accepted <= drafted


def test_copying_prompt_is_accepted_with_identical_logprobs(engines):
    plain, fast = engines
    p = GenParams(temperature=0, max_tokens=40, logprobs=2)
    a, b = collect(plain.chat(COPY, p)), collect(fast.chat(COPY, p))
    assert a.text == b.text and "lazy dog" in b.text
    assert [(x.token, x.logprob, x.top) for x in a.logprobs] == \
        [(x.token, x.logprob, x.top) for x in b.logprobs]
    assert b.timings.accepted_tokens >= 10 and b.timings.acceptance > 0.5


def test_stops_and_schemas_cut_the_answer_where_plain_decoding_does(engines):
    plain, fast = engines
    for p in (GenParams(temperature=0, max_tokens=40, stop=["lazy"]),
              GenParams(temperature=0, max_tokens=7),
              GenParams(temperature=0, max_tokens=30, json_schema={
                  "type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]})):
        a, b = collect(plain.chat(COPY, p)), collect(fast.chat(COPY, p))
        assert (b.text, b.finish_reason, b.usage) == (a.text, a.finish_reason, a.usage)


def test_sampled_requests_decode_plainly_unless_the_setting_says(engines, monkeypatch):
    plain, fast = engines
    p = GenParams(temperature=0.3, seed=3, max_tokens=40)
    r = collect(fast.chat(COPY, p))
    assert r.timings.draft_tokens == 0 and r.timings.speculation.startswith("off: sampled")
    monkeypatch.setenv("BAKEOFF_SPECULATIVE_SAMPLED", "1")
    reset_settings()
    a, b = collect(fast.chat(COPY, p)), collect(fast.chat(COPY, p))
    assert a.text == b.text and a.usage.completion_tokens > 0
    # A low temperature copies the text, so lookup drafts and the rejection rule keeps most.
    assert a.timings.speculation == "prompt-lookup" and a.timings.accepted_tokens > 0
    off = collect(plain.chat(COPY, p))
    assert off.timings.draft_tokens == 0 and off.timings.speculation == "off"


def test_ask_reports_drafts_and_speculation_is_off_by_default(capsys, smollm2_path):
    seed_eager_costs(str(smollm2_path))
    prompt = COPY[0].content
    args = ("ask", "smollm2-135m", prompt, "--temperature", "0", "--max-tokens", "30")
    on = run_json(capsys, *args, "--speculative")
    off = run_json(capsys, *args)         # off by default: it measured slower on the starter suite
    assert run_json(capsys, *args, "--no-speculative")["timings"]["draft_tokens"] == 0
    assert on["text"] == off["text"]
    assert on["timings"]["accepted_tokens"] > 0 and 0 < on["timings"]["acceptance"] <= 1
    assert off["timings"]["draft_tokens"] == 0 and off["timings"]["acceptance"] is None
    assert on["settings"]["speculative"] != "off" and off["settings"]["speculative"] == "off"
    code, _, err = run(capsys, *args, "--speculative", "--stats")
    assert code == 0 and "drafts " in err and "accepted (" in err
    logs = run_json(capsys, "logs")
    assert logs[0]["timings"]["draft_tokens"] > 0


def test_a_model_whose_batches_round_differently_is_not_speculated(capsys):
    """Gemma 3 270M Q4_K_M reads batches in tiles of 4, and its batched logits differ from
    one-token decoding here: prompt lookup measures that and stays off instead of changing
    answers. (Where a machine's kernels are exact for it, lookup runs and answers still match.)"""
    args = ("ask", "gemma3-270m", COPY[0].content, "--temperature", "0", "--max-tokens", "24", "--json")
    code, out, err = run(capsys, *args, "--speculative")
    assert code == 0 and "exact batch size and decode costs (once per model file" in err   # announced
    on = json.loads(out)
    off = run_json(capsys, *args[:-1])
    assert on["text"] == off["text"]
    speculation = on["timings"]["speculation"]
    assert speculation == "prompt-lookup" or "differ from one-token decoding" in speculation
    code, out, err = run(capsys, *args, "--speculative")     # the measurement is cached, not repeated
    assert code == 0 and "measuring" not in err
    assert json.loads(out)["timings"]["speculation"] == speculation
