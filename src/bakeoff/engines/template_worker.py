"""The chat-template renderer's child process (run as a script: it imports only jinja2 and the
standard library). One JSON request per line on stdin, one JSON answer per line on stdout:

    {"template": str, "context": {...}, "max_chars": int}
    -> {"text": str} | {"refused": str} | {"broken": str} | {"too_big": int}

A template comes from a model file, so it is treated as hostile: Jinja's immutable sandbox (no
attribute tricks, no mutation of the messages), output cut off past max_chars, and this process's
address space capped, so an allocation bomb fails here. The parent enforces the time limit by
killing this process.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import threading
import time
from datetime import datetime
from typing import Any

MEMORY_BYTES = 1 << 30


class Refused(Exception):
    """The template's own raise_exception(): it declines these messages."""


def _raise_exception(message: Any) -> None:
    raise Refused(str(message))


def _strftime_now(fmt: str) -> str:
    return datetime.now().strftime(fmt)


def _tojson(x: Any, ensure_ascii: bool = False, indent: int | None = None,
            separators: tuple[str, str] | None = None, sort_keys: bool = False) -> str:
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def _environment() -> Any:
    import jinja2.ext
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    class GenerationTag(jinja2.ext.Extension):
        """Hugging Face's {% generation %}...{% endgeneration %} marks training targets: render the body."""

        tags = {"generation"}

        def parse(self, parser: Any) -> Any:
            next(parser.stream)
            return parser.parse_statements(("name:endgeneration",), drop_needle=True)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[GenerationTag, jinja2.ext.loopcontrols])
    env.filters["tojson"] = _tojson
    env.globals.update(raise_exception=_raise_exception, strftime_now=_strftime_now)
    return env


def render(env: Any, cache: dict[str, Any], req: dict[str, Any]) -> dict[str, Any]:
    import jinja2

    try:
        if req["template"] not in cache:
            cache.clear()   # one model's template at a time is the common case
            cache[req["template"]] = env.from_string(req["template"])
        parts, size = [], 0
        for piece in cache[req["template"]].generate(**req["context"]):
            size += len(piece)
            if size > req["max_chars"]:
                return {"too_big": req["max_chars"]}
            parts.append(piece)
        return {"text": "".join(parts)}
    except Refused as exc:
        return {"refused": str(exc)[:500]}
    except jinja2.TemplateSyntaxError as exc:
        return {"broken": f"syntax error at line {exc.lineno}: {exc.message}"}
    except jinja2.exceptions.SecurityError as exc:
        return {"broken": f"forbidden operation: {exc}"[:500]}
    except MemoryError:
        return {"broken": f"needed more than {MEMORY_BYTES >> 20} MiB to render"}
    except RecursionError:
        return {"broken": "recursion too deep"}
    except Exception as exc:  # noqa: BLE001 - a template can raise anything Python can
        return {"broken": f"{type(exc).__name__}: {exc}"[:500]}


def _exit_with_parent() -> None:
    """End this process when the parent is gone, even in the middle of a runaway render (a thread:
    PR_SET_PDEATHSIG would fire when the parent's *thread* that started us ends, which in a server
    is any request's worker thread). Closing stdin ends the loop in main() too."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def main() -> None:
    _exit_with_parent()
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_BYTES, MEMORY_BYTES))
    env = _environment()
    cache: dict[str, Any] = {}
    print("ready", flush=True)
    for line in sys.stdin:
        print(json.dumps(render(env, cache, json.loads(line))), flush=True)


if __name__ == "__main__":
    main()
