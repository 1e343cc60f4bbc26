"""Text from others (model names, remote ids, request paths, error messages) made safe to print."""

from __future__ import annotations

import logging
import re

# C0 controls but tab and newline, DEL, C1 controls: an escape sequence in a model name, a remote
# model id, a request path or a server's error message must not move the cursor, clear the screen
# or retitle the terminal. Shown as \x1b instead.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# Bidirectional controls (embeddings, overrides, isolates, marks) reorder the rest of the line on
# terminals that honour them: a name could be made to read as another. Shown as \u202e.
_BIDI = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    text = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
    return _BIDI.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


class PrintableLog(logging.Filter):
    """A logger's records with control characters made visible, in the message and in the
    traceback of a logged exception (both can carry what a client sent)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = printable(record.getMessage()), None
        if record.exc_info and not record.exc_text:
            record.exc_text = printable(logging.Formatter().formatException(record.exc_info))
        return True
