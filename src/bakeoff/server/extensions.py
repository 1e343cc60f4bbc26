"""Request fields that vLLM and llama-server accept beyond OpenAI's, so their clients work unchanged.

Honoured: `repetition_penalty` (vLLM's name for repeat_penalty), `ignore_eos`, `min_tokens`,
`n_predict` (llama-server's max_tokens), `cache_prompt` (prefix reuse is always on), structured
output as vLLM asks for it (`guided_json`, `guided_choice`, `guided_grammar` in GBNF) and as
llama-server does (`json_schema`, `grammar`, `response_format` with a `schema`), and OpenAI's
`frequency_penalty`/`presence_penalty`. Fields Bakeoff knows but cannot honour are refused with a
400 that says so and what to use instead; anything else is refused as unknown, as before.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .. import jsontext
from ..errors import InvalidParamsError

# field -> (the only value Bakeoff can honour, what to do instead)
FIXED = {"skip_special_tokens": (True, "special tokens are never shown"),
         "spaces_between_special_tokens": (True, "special tokens are never shown"),
         "include_stop_str_in_output": (False, "stop strings are left out of the output"),
         "use_beam_search": (False, "sample instead (beam search is not implemented)"),
         "best_of": (1, "send n requests"),
         "length_penalty": (1.0, "only used by beam search"),
         "typical_p": (1.0, "use top_p or min_p"),
         "mirostat": (0, "use temperature with top_p or min_p")}
REFUSED = {"guided_regex": "regular-expression constraints are not supported; use guided_json, "
                           "guided_choice or a GBNF grammar (guided_grammar)",
           "guided_whitespace_pattern": "not supported; the JSON grammar allows JSON's whitespace"}


class JsonSchemaSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    name: str = Field("response", max_length=64, description="Name of the schema.")
    description: str | None = None
    schema_: dict[str, Any] = Field(default_factory=dict, alias="schema", description="The JSON schema.")
    strict: bool | None = Field(None, description="Accepted; output always follows the schema.")


class ResponseFormat(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    type: Literal["text", "json_object", "json_schema"] = Field("text", description="Output format.")
    json_schema: JsonSchemaSpec | None = Field(None, description="OpenAI's form: required for json_schema.")
    schema_: dict[str, Any] | None = Field(None, alias="schema",
                                           description="llama-server's form: the schema beside the type.")


class Extensions(BaseModel):
    """Mixed into the completion requests; every field is optional and off by default."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    response_format: ResponseFormat | None = Field(None, description="Constrain the output to JSON.")
    repetition_penalty: float | None = Field(None, gt=0.0, le=5.0, description="vLLM: alias of repeat_penalty.")
    ignore_eos: bool = Field(False, description="vLLM/llama-server: keep generating past end tokens.")
    min_tokens: int = Field(0, ge=0, description="vLLM: end tokens before this many are skipped.")
    n_predict: int | None = Field(None, ge=-1, description="llama-server: alias of max_tokens (-1: no limit).")
    cache_prompt: bool = Field(True, description="llama-server: accepted; prompt prefixes are always reused.")
    guided_json: dict[str, Any] | str | None = Field(None, description="vLLM: constrain output to this JSON schema.")
    guided_choice: list[str] | None = Field(None, min_length=1, description="vLLM: output exactly one of these.")
    guided_grammar: str | None = Field(None, description="vLLM: a grammar, in llama.cpp's GBNF.")
    guided_decoding_backend: str | None = Field(None, description="vLLM: accepted; llama.cpp's grammar engine is used.")
    json_schema: dict[str, Any] | None = Field(None, description="llama-server: constrain output to this JSON schema.")
    grammar: str | None = Field(None, description="llama-server: a GBNF grammar.")
    skip_special_tokens: bool = True
    spaces_between_special_tokens: bool = True
    include_stop_str_in_output: bool = False
    use_beam_search: bool = False
    best_of: int | None = None
    length_penalty: float = 1.0
    typical_p: float = 1.0
    mirostat: int = 0
    guided_regex: str | None = None
    guided_whitespace_pattern: str | None = None

    def check_supported(self) -> None:
        for name, (value, instead) in FIXED.items():
            got = getattr(self, name)
            if got is not None and got != value:
                raise InvalidParamsError(f"{name}={json.dumps(got)} is not supported (only {json.dumps(value)}): "
                                         f"{instead}", param=name)
        for name, why in REFUSED.items():
            if getattr(self, name) is not None:
                raise InvalidParamsError(f"{name}: {why}", param=name)

    def constraint(self) -> dict[str, Any]:
        """GenParams' json_schema or grammar from whichever form the client used (one at most)."""
        forms = (("response_format", self._response_format()), ("guided_json", self._guided_json()),
                 ("json_schema", {"json_schema": self.json_schema} if self.json_schema else None),
                 ("guided_choice", self._choice()),
                 ("guided_grammar", {"grammar": self.guided_grammar} if self.guided_grammar else None),
                 ("grammar", {"grammar": self.grammar} if self.grammar else None))
        given = {name: c for name, c in forms if c}
        if len(given) > 1:
            raise InvalidParamsError(f"give one output constraint, not {' and '.join(given)}", param=next(iter(given)))
        return next(iter(given.values()), {})

    def _response_format(self) -> dict[str, Any] | None:
        rf = self.response_format
        if rf is None or rf.type == "text":
            return None
        schema = rf.json_schema.schema_ if rf.json_schema is not None else rf.schema_
        if rf.type == "json_schema" and schema is None:
            raise InvalidParamsError("response_format.json_schema is required when type is json_schema",
                                     param="response_format.json_schema")
        return {"json_schema": schema or {"type": "object"}}

    def _guided_json(self) -> dict[str, Any] | None:
        if self.guided_json is None:
            return None
        schema = self.guided_json
        if isinstance(schema, str):
            try:
                schema = jsontext.loads(schema)
            except json.JSONDecodeError as exc:
                raise InvalidParamsError(f"guided_json is not JSON: {exc.msg}", param="guided_json") from None
        if not isinstance(schema, dict):
            raise InvalidParamsError("guided_json must be a JSON schema object", param="guided_json")
        return {"json_schema": schema}

    def _choice(self) -> dict[str, Any] | None:
        if not self.guided_choice:
            return None
        return {"grammar": "root ::= " + " | ".join(gbnf_literal(c) for c in self.guided_choice)}

    def gen_kwargs(self, max_tokens: int | None) -> dict[str, Any]:
        """GenParams fields these extensions set (max_tokens: the request's, which n_predict fills)."""
        self.check_supported()
        if max_tokens is None and self.n_predict is not None:
            max_tokens = None if self.n_predict < 0 else self.n_predict
        out = {"max_tokens": max_tokens, "ignore_eos": self.ignore_eos, "min_tokens": self.min_tokens,
               **self.constraint()}
        if self.repetition_penalty is not None:
            out["repeat_penalty"] = self.repetition_penalty
        return out


def gbnf_literal(text: str) -> str:
    """A GBNF string literal matching `text` exactly."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return f'"{escaped}"'
