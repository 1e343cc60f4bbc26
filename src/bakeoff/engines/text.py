"""Pure-text helpers shared by engines: incremental UTF-8 decoding and stop-sequence matching."""

from __future__ import annotations

import codecs


class Utf8Stream:
    """Turns token byte pieces into text, holding back incomplete multi-byte characters."""

    def __init__(self) -> None:
        self._dec = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def feed(self, piece: bytes) -> str:
        return self._dec.decode(piece)

    def flush(self) -> str:
        return self._dec.decode(b"", final=True)


class StopMatcher:
    """Streams text while holding back any tail that could still become a stop sequence.

    feed() returns (text safe to emit, stopped). Once stopped, the stop string and everything after
    it are dropped, as OpenAI's API does.
    """

    def __init__(self, stops: list[str]):
        self.stops = [s for s in stops if s]
        self._held = ""
        self.stopped = False

    def feed(self, text: str) -> tuple[str, bool]:
        if self.stopped:
            return "", True
        buf = self._held + text
        if not self.stops:
            self._held = ""
            return buf, False
        first = min((i for i in (buf.find(s) for s in self.stops) if i >= 0), default=-1)
        if first >= 0:
            self.stopped = True
            self._held = ""
            return buf[:first], True
        keep = 0
        for s in self.stops:  # longest suffix of buf that is a proper prefix of a stop string
            for n in range(min(len(s) - 1, len(buf)), 0, -1):
                if buf.endswith(s[:n]):
                    keep = max(keep, n)
                    break
        self._held = buf[len(buf) - keep:] if keep else ""
        return buf[: len(buf) - keep], False

    def flush(self) -> str:
        out, self._held = ("" if self.stopped else self._held), ""
        return out
