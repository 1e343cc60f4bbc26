"""ModelRef: what a model name resolves to."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class ModelRef:
    name: str                      # canonical name shown everywhere
    engine: str                    # key in bakeoff.engines.ENGINES ("llamacpp", "openai", ...)
    source: str                    # "packaged", "local", "file", "endpoint", ...
    path: str | None = None        # GGUF path for local engines
    aliases: list[str] = field(default_factory=list)
    license: str | None = None     # licence known from the source when the file does not say
    options: dict[str, Any] = field(default_factory=dict)  # engine-specific (endpoint URL, ...)

    @property
    def is_local(self) -> bool:
        return self.path is not None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "engine": self.engine, "source": self.source, "path": self.path,
                "aliases": list(self.aliases), "license": self.license}
