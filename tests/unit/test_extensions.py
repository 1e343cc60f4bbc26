"""Request extensions of vLLM and llama-server, mapped onto GenParams without a server."""

from __future__ import annotations

import pytest

from bakeoff.engines.base import GenParams
from bakeoff.errors import InvalidParamsError
from bakeoff.server.extensions import Extensions, gbnf_literal


def test_cache_keys_of_earlier_answers_stay_valid() -> None:
    """Answers cached before the new fields existed keep their keys; setting a field changes it."""
    old_fields = {"max_tokens", "temperature", "top_p", "top_k", "min_p", "repeat_penalty", "seed", "stop",
                  "json_schema", "logprobs"}
    assert set(GenParams().cache_key()) == old_fields
    assert GenParams(ignore_eos=True).cache_key()["ignore_eos"] is True


def test_each_form_maps_to_one_constraint() -> None:
    schema = {"type": "object"}
    forms = [({"guided_json": '{"type": "object"}'}, {"json_schema": schema}),
             ({"json_schema": schema}, {"json_schema": schema}),
             ({"response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}}},
              {"json_schema": schema}),
             ({"response_format": {"type": "json_object", "schema": {"type": "array"}}},
              {"json_schema": {"type": "array"}}),
             ({"response_format": {"type": "json_object"}}, {"json_schema": schema}),
             ({"guided_choice": ['say "hi"', "a\\b"]}, {"grammar": 'root ::= "say \\"hi\\"" | "a\\\\b"'}),
             ({"grammar": 'root ::= "x"'}, {"grammar": 'root ::= "x"'})]
    for body, want in forms:
        assert Extensions(**body).constraint() == want, body
    kw = Extensions(n_predict=-1, repetition_penalty=1.3, min_tokens=2).gen_kwargs(None)
    assert kw == {"max_tokens": None, "ignore_eos": False, "min_tokens": 2, "repeat_penalty": 1.3}
    assert Extensions(n_predict=12).gen_kwargs(None)["max_tokens"] == 12
    assert Extensions(n_predict=12).gen_kwargs(5)["max_tokens"] == 5   # max_tokens wins


def test_refusals_name_the_field() -> None:
    with pytest.raises(InvalidParamsError) as exc:
        Extensions(include_stop_str_in_output=True).gen_kwargs(None)
    assert exc.value.param == "include_stop_str_in_output"
    with pytest.raises(InvalidParamsError, match="guided_json is not JSON"):
        Extensions(guided_json="{nope").constraint()
    assert gbnf_literal("a\nb") == '"a\\nb"'
