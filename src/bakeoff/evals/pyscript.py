"""User Python for assertions: a function from a file, or a body written inline in a suite.

Both run in this process, as the suite's author wrote them (a suite is code its owner trusts, like
a test file); errors while loading are ValueErrors that name the file and the problem.
"""

from __future__ import annotations

import importlib.util
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any


def load_python_function(path: Path, name: str) -> Callable[..., Any]:
    """`name` from the Python file at `path`."""
    path = path.resolve()
    if not path.is_file():
        raise ValueError(f"python file {path.name!r} not found (looked in {path.parent})")
    spec = importlib.util.spec_from_file_location(f"bakeoff_suite_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    try:
        spec.loader.exec_module(module)  # type: ignore[union-attr]
    except Exception as exc:  # noqa: BLE001 - user code: report, don't crash
        raise ValueError(f"python file {path.name!r} failed to load: {type(exc).__name__}: {exc}") from None
    fn = getattr(module, name, None)
    if not callable(fn):
        raise ValueError(f"python file {path.name!r} has no function {name!r}")
    return fn


def make_inline_function(code: str) -> Callable[[str, dict[str, Any]], Any]:
    """promptfoo's inline python: one line is an expression to return; several lines are the body
    of `def main(output, context)`. Both see `output`, `context` and the json module."""
    body = textwrap.indent(code if "\n" in code.strip() else f"return {code.strip()}", "    ")
    source = f"import json\n\ndef main(output, context):\n{body}\n"
    scope: dict[str, Any] = {}
    try:
        exec(compile(source, "<inline python assertion>", "exec"), scope)  # noqa: S102 - the suite's own code
    except SyntaxError as exc:
        raise ValueError(f"inline python does not compile: {exc.msg} (line {(exc.lineno or 3) - 3})") from None
    return scope["main"]
