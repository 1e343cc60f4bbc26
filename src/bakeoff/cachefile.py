"""A JSON cache file in BAKEOFF_HOME (calibration/verify-cost.json, machine.json): one document with
a format version beside its body.

Such a file only saves a measurement, so it must never cost more than the measurement: a file that
is missing, unreadable, not JSON, nested past what the parser takes, not an object, or written by
another version of the format reads as absent, and the caller measures again. Writes replace the
file whole (atomic.py), so a kill mid-write leaves the old document or the new one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import jsontext
from .atomic import write_text_atomic


@dataclass(frozen=True)
class VersionedJSON:
    """`path` holds {"version": version, ...body}; read() gives the body back, or None."""

    path: Path
    version: int

    def read(self) -> dict[str, Any] | None:
        """The body (the document without its version), or None when the file is missing,
        damaged or of another version."""
        try:
            data = jsontext.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):   # UnicodeDecodeError and JSONDecodeError are ValueErrors
            return None
        if not isinstance(data, dict) or data.get("version") != self.version:
            return None
        return {k: v for k, v in data.items() if k != "version"}

    def write(self, body: dict[str, Any]) -> None:
        """Replace the file with `body` under this version (creating its folder); raises OSError
        when it cannot be written."""
        if "version" in body:
            raise ValueError("the body of a versioned cache may not have its own 'version' key")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(self.path, json.dumps({"version": self.version, **body}, indent=1))


__all__ = ["VersionedJSON"]
