"""Remote OpenAI-compatible endpoints as models (filled in by the remote-endpoints work)."""

from __future__ import annotations

from typing import Iterable

from ..settings import Settings
from .ref import ModelRef


def endpoint_refs(settings: Settings) -> Iterable[ModelRef]:
    return []
