"""One-line notices of slow work done once and then cached (calibrating the speed model, measuring
a model's verification decodes), so a user kept waiting a few seconds is told why.

Code at any layer calls `notice(text)`. The notices travel as INFO records of the "bakeoff.notice"
logger, and each surface says once where they go: the CLI prints each as a plain line on stderr
(`to_lines`), `bakeoff serve` logs them with time and level (`to_log`), a program using Bakeoff as a
library sees them through its own logging configuration.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

from .terminal import PrintableLog

log = logging.getLogger("bakeoff.notice")
log.setLevel(logging.INFO)
log.addFilter(PrintableLog())   # notices name models and paths, which may carry control characters
_shown: logging.Handler | None = None
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def notice(text: str) -> None:
    log.info(text)


class _Lines(logging.Handler):
    def __init__(self, write: Callable[[str], None]):
        super().__init__(logging.INFO)
        self.write = write

    def emit(self, record: logging.LogRecord) -> None:
        self.write(self.format(record))   # the logger's filter made the message printable


def show(handler: logging.Handler) -> None:
    """Send notices to `handler` from now on, instead of where the surface sent them before."""
    global _shown
    if _shown is not None:
        log.removeHandler(_shown)
    _shown = handler
    log.addHandler(handler)


def to_lines(write: Callable[[str], None]) -> None:
    """Each notice as one plain line through `write` (the CLI's stderr)."""
    show(_Lines(write))


def to_log() -> None:
    """Each notice as a log line with its time and level on stderr (a server's log)."""
    handler = _Lines(lambda line: print(line, file=sys.stderr, flush=True))   # stderr as it is then
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    show(handler)


__all__ = ["notice", "show", "to_lines", "to_log"]
