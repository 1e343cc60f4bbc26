"""JSON schema -> GBNF, the grammar format llama.cpp's sampler takes."""

from __future__ import annotations

import json
from typing import Any

from ..errors import InvalidParamsError

# A grammar is applied to the whole vocabulary at every sampled token, on the thread that decodes
# every request of the batch: its cost grows with its alternatives (a 3,000-value enum made each
# token ~5x slower than a 10-value one, SmolLM2 on 2 cores). Bounded so one request cannot stall
# the others; real response schemas are a few KiB.
MAX_SCHEMA_CHARS = 64 << 10
MAX_GRAMMAR_CHARS = 32 << 10


def schema_to_grammar(schema: dict[str, Any]) -> str:
    from llama_cpp.llama_grammar import json_schema_to_gbnf  # pure Python; loads no model

    text = json.dumps(schema)
    hint = "use a smaller schema (e.g. fewer enum values; validate the rest after generation)"
    if len(text) > MAX_SCHEMA_CHARS:
        raise InvalidParamsError(f"the JSON schema has {len(text):,} characters, more than the {MAX_SCHEMA_CHARS:,} "
                                 "a grammar-constrained answer may use", param="json_schema", hint=hint)
    try:
        grammar = json_schema_to_gbnf(text)
    except Exception as exc:  # noqa: BLE001 - the converter raises bare exceptions on bad schemas
        raise InvalidParamsError(f"unsupported JSON schema: {exc}", param="json_schema") from None
    if len(grammar) > MAX_GRAMMAR_CHARS:
        raise InvalidParamsError(f"the JSON schema needs a grammar of {len(grammar):,} characters, more than "
                                 f"{MAX_GRAMMAR_CHARS:,}", param="json_schema", hint=hint)
    return grammar
