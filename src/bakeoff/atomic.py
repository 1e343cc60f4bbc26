"""Files Bakeoff rewrites while it runs (state, caches, settings lists) are replaced whole: a kill
at any moment (SIGTERM, Ctrl-C, power) leaves the old file or the new one, never half of one
that the next run cannot read."""

from __future__ import annotations

import os
import threading
from pathlib import Path


def write_text_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
