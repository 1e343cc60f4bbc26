"""JSON from others (model answers, remote endpoints, suite and dataset files, other tools' stores).

Python's parser recurses once per nesting level: a few hundred kilobytes of `[` raise RecursionError,
which no caller expects, so one answer or one manifest could fail a whole run or listing. Here
that is the JSONDecodeError every caller already handles.

JSON may also spell a lone UTF-16 surrogate ("\\ud800"), which decodes to a str that is not text:
it cannot be encoded as UTF-8, so SQLite, a terminal or the code sandbox fail on it far from where
it came in (an endpoint whose answer held one failed the whole run with UnicodeEncodeError). Here
each lone surrogate becomes U+FFFD, as undecodable bytes do in model output.
"""

from __future__ import annotations

import json
import re
from typing import Any

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")   # json.loads joins valid pairs: what is left is lone
_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")         # how a surrogate is spelled in JSON


def loads(text: str | bytes, **kwargs: Any) -> Any:
    try:
        value = json.loads(text, **kwargs)
    except RecursionError:
        doc = text if isinstance(text, str) else text.decode("utf-8", "replace")
        raise json.JSONDecodeError("nested too deeply", doc[:64], 0) from None
    raw = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    return _as_text(value) if _ESCAPE.search(raw) else value


def as_text(value: str) -> str:
    """`value` with each lone surrogate replaced by U+FFFD."""
    return _LONE_SURROGATE.sub("\ufffd", value)


def _as_text(value: Any) -> Any:
    """Decoded JSON with every string (keys too) made text; iterative, as the nesting may be deep."""
    root = [value]
    stack: list[tuple[Any, Any]] = [(root, 0)]
    while stack:
        holder, key = stack.pop()
        item = holder[key]
        if isinstance(item, str):
            holder[key] = as_text(item)
        elif isinstance(item, list):
            stack.extend((item, i) for i in range(len(item)))
        elif isinstance(item, dict):
            fixed = {as_text(k): v for k, v in item.items()}
            item.clear()
            item.update(fixed)
            stack.extend((item, k) for k in item)
    return root[0]


def raw_decode(decoder: json.JSONDecoder, text: str, pos: int = 0) -> tuple[Any, int]:
    """decoder.raw_decode, with too deep a nesting a JSONDecodeError like any other bad JSON."""
    try:
        return decoder.raw_decode(text, pos)
    except RecursionError:
        raise json.JSONDecodeError("nested too deeply", text[pos:pos + 64], 0) from None


def nesting_depth(value: Any, limit: int) -> int:
    """How deeply lists and dicts nest in decoded JSON, counted without recursion and only up to
    `limit` + 1 (a caller refuses past `limit` before any recursive code walks the value)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (list, dict)):
            deepest = max(deepest, depth)
            if depth > limit:
                return deepest
            stack.extend((v, depth + 1) for v in (item.values() if isinstance(item, dict) else item))
    return deepest


def lone_surrogate(value: Any, where: str = "") -> str | None:
    """Where in decoded JSON (or YAML) a string holds a lone surrogate ("\\ud800" is valid JSON but
    no text: it cannot be encoded to UTF-8 for a tokenizer or a database), or None. For input whose
    author should hear of it (a request, a suite); JSON from others is repaired by loads()."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            return f"{where or 'a string'} (character {exc.start})"
    elif isinstance(value, dict):
        key = next((k for k in value if isinstance(k, str) and _LONE_SURROGATE.search(k)), None)
        if key is not None:
            return f"a key of {where or 'the document'} ({key.encode('utf-8', 'backslashreplace').decode()})"
        return next(filter(None, (lone_surrogate(v, f"{where}.{k}".lstrip(".")) for k, v in value.items())), None)
    elif isinstance(value, list):
        return next(filter(None, (lone_surrogate(v, f"{where}[{i}]") for i, v in enumerate(value))), None)
    return None
