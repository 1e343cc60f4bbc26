"""JSON schema -> GBNF, the grammar format llama.cpp's sampler takes."""

from __future__ import annotations

import json
from typing import Any

from ..errors import InvalidParamsError


def schema_to_grammar(schema: dict[str, Any]) -> str:
    from llama_cpp.llama_grammar import json_schema_to_gbnf  # pure Python; loads no model

    try:
        return json_schema_to_gbnf(json.dumps(schema))
    except Exception as exc:  # noqa: BLE001 - the converter raises bare exceptions on bad schemas
        raise InvalidParamsError(f"unsupported JSON schema: {exc}", param="json_schema") from None
