"""JSON schema -> GBNF, the grammar format llama.cpp's sampler takes."""

from __future__ import annotations

import json
import re
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
    _check_schema_counts(schema)
    try:
        grammar = json_schema_to_gbnf(text)
    except Exception as exc:  # noqa: BLE001 - the converter raises bare exceptions on bad schemas
        raise InvalidParamsError(f"unsupported JSON schema: {exc}", param="json_schema") from None
    if len(grammar) > MAX_GRAMMAR_CHARS:
        raise InvalidParamsError(f"the JSON schema needs a grammar of {len(grammar):,} characters, more than "
                                 f"{MAX_GRAMMAR_CHARS:,}", param="json_schema", hint=hint)
    return grammar


# llama.cpp parses a grammar recursively (a few tens of thousands of nested groups overflow the
# stack and kill the process) and expands each repetition `x{m,n}` into n copies (`"a"{0,10000000}`,
# 25 characters, takes gigabytes): both are bounded before a grammar reaches it.
MAX_GRAMMAR_NESTING = 256
MAX_REPETITION = 4096
_QUANTIFIER = re.compile(r"\{\s*(\d+)\s*(?:,\s*(\d*)\s*)?\}")


def _outside_literals(text: str) -> str:
    """GBNF with the contents of "strings" and [classes] blanked, so only the structure remains."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if c in "\"[":
            close = '"' if c == '"' else "]"
            i += 1
            while i < n and text[i] != close:
                i += 2 if text[i] == "\\" else 1
            out.append(" ")
        elif c == "#":  # a comment runs to the end of the line
            while i < n and text[i] != "\n":
                i += 1
            continue
        else:
            out.append(c)
        i += 1
    return "".join(out)


def check_grammar(grammar: str) -> None:
    """Refuse a GBNF grammar (given by a client or built here) that is too big for the thread that
    decodes every request, or that would crash or flood llama.cpp's parser."""
    hint = "use a smaller grammar: fewer alternatives, shallower groups, smaller repetition counts"
    if len(grammar) > MAX_GRAMMAR_CHARS:
        raise InvalidParamsError(f"the grammar has {len(grammar):,} characters, more than {MAX_GRAMMAR_CHARS:,}",
                                 param="grammar", hint=hint)
    structure, depth, deepest = _outside_literals(grammar), 0, 0
    for c in structure:
        depth += (c == "(") - (c == ")")
        deepest = max(deepest, depth)
    if deepest > MAX_GRAMMAR_NESTING:
        raise InvalidParamsError(f"the grammar nests groups {deepest:,} deep, more than {MAX_GRAMMAR_NESTING}",
                                 param="grammar", hint=hint)
    _check_repetitions(structure, "grammar")


def _check_repetitions(text: str, param: str) -> None:
    for m in _QUANTIFIER.finditer(text):
        count = max(int(m.group(1)), int(m.group(2) or 0))
        if count > MAX_REPETITION:
            raise InvalidParamsError(f"the {param} repeats an item {count:,} times ({m.group(0)}), more than "
                                     f"{MAX_REPETITION:,}", param=param,
                                     hint="use a smaller count, or check the length after generation")


# Schema keywords the converter expands into that many copies of a rule (minLength: 10**8 is a
# 500 MB grammar built before its size could be checked).
_COUNT_KEYWORDS = ("minLength", "maxLength", "minItems", "maxItems", "minProperties", "maxProperties")


def _check_schema_counts(schema: Any) -> None:
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, dict):
            for key, value in node.items():
                if key in _COUNT_KEYWORDS and isinstance(value, (int, float)) and value > MAX_REPETITION:
                    raise InvalidParamsError(f"the JSON schema's {key} is {value:,}, more than the "
                                             f"{MAX_REPETITION:,} a grammar-constrained answer may use",
                                             param="json_schema",
                                             hint="use a smaller bound and check the length after generation")
                if key == "pattern" and isinstance(value, str):
                    _check_repetitions(value, "json_schema")
                stack.append(value)
