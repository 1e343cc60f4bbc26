"""JSON from others (model answers, remote endpoints, suite and dataset files, other tools' stores).

Python's parser recurses once per nesting level: a few hundred kilobytes of `[` raise RecursionError,
which no caller expects, so one answer or one manifest could fail a whole run or listing. Here
that is the JSONDecodeError every caller already handles.
"""

from __future__ import annotations

import json
from typing import Any


def loads(text: str | bytes, **kwargs: Any) -> Any:
    try:
        return json.loads(text, **kwargs)
    except RecursionError:
        doc = text if isinstance(text, str) else text.decode("utf-8", "replace")
        raise json.JSONDecodeError("nested too deeply", doc[:64], 0) from None


def raw_decode(decoder: json.JSONDecoder, text: str, pos: int = 0) -> tuple[Any, int]:
    """decoder.raw_decode, with too deep a nesting a JSONDecodeError like any other bad JSON."""
    try:
        return decoder.raw_decode(text, pos)
    except RecursionError:
        raise json.JSONDecodeError("nested too deeply", text[pos:pos + 64], 0) from None
