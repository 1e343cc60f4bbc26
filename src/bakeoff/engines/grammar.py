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
    _check_reachable(grammar, "json_schema")
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
    _check_reachable(grammar, "grammar")


# llama.cpp aborts the whole process (GGML_ABORT in llama-grammar.cpp) when a grammar leaves no
# token to sample: it masks every token whose text starts with NUL, and no token's text decodes past
# U+10FFFF. One request with `root ::= "\x00"` killed `bakeoff serve`; a literal or a character
# class that admits only such characters is refused (a class with others beside them is fine).
_TOP = 0x10FFFF
_ESCAPES = {"x": 2, "u": 4, "U": 8}


def _chars(body: str) -> list[int]:
    """Code points of a literal's or a class's body, GBNF escapes decoded."""
    out, i = [], 0
    while i < len(body):
        c = body[i]
        if c == "\\" and i + 1 < len(body):
            kind = body[i + 1]
            width = _ESCAPES.get(kind)
            if width:
                digits = body[i + 2:i + 2 + width]
                hexadecimal = len(digits) == width and all(d in "0123456789abcdefABCDEF" for d in digits)
                out.append(int(digits, 16) if hexadecimal else ord(kind))
                i += 2 + width
                continue
            out.append({"n": 10, "r": 13, "t": 9}.get(kind, ord(kind)))
            i += 2
            continue
        out.append(ord(c))
        i += 1
    return out


def _class_allows_something(body: str) -> bool:
    negated = body.startswith("^")
    chars = _chars(body[1:] if negated else body)
    spans, i = [], 0
    while i < len(chars):                       # "a-z" is a range; a "-" at the end is itself
        if i + 2 < len(chars) and chars[i + 1] == ord("-"):
            spans.append((chars[i], chars[i + 2]))
            i += 3
        else:
            spans.append((chars[i], chars[i]))
            i += 1
    usable = sorted((max(lo, 1), min(hi, _TOP)) for lo, hi in spans if max(lo, 1) <= min(hi, _TOP))
    if not negated:
        return bool(usable)
    covered = 0                                  # [^...] allows what its spans leave of 1..U+10FFFF
    for lo, hi in usable:
        if lo > covered + 1:
            return True
        covered = max(covered, hi)
    return covered < _TOP


def _check_reachable(grammar: str, param: str) -> None:
    i, n = 0, len(grammar)
    while i < n:
        c = grammar[i]
        if c == "#":
            i = grammar.find("\n", i)
            i = n if i < 0 else i
            continue
        if c in "\"[":
            close, start = ('"' if c == '"' else "]"), i + 1
            i += 1
            while i < n and grammar[i] != close:
                i += 2 if grammar[i] == "\\" else 1
            body = grammar[start:i]
            dead = (any(ch == 0 or ch > _TOP for ch in _chars(body)) if c == '"'
                    else not _class_allows_something(body))
            if dead:
                raise InvalidParamsError(f"the {param} asks for a character no token can produce (NUL or past "
                                         f"U+10FFFF) at {grammar[start - 1:i + 1][:40]!r}", param=param,
                                         hint="remove it: llama.cpp cannot sample past such a character")
        i += 1


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
