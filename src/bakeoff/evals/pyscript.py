"""User Python for assertions: a function from a file, or a body written inline in a suite.

Both run in this process, as the suite's author wrote them (a suite is code its owner trusts, like
a test file). Loading or validating a suite never runs that code: a file is parsed and checked for
the function, and imported only when the first output is graded (once, under a lock: cases grade
in threads). Errors while loading are ValueErrors that name the file and the problem; errors while
importing at grade time are PythonLoadError, including SystemExit from the module's top level.
"""

from __future__ import annotations

import ast
import importlib.util
import math
import numbers
import textwrap
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any


class PythonLoadError(Exception):
    """The suite's Python file failed to import, or does not define a callable of that name."""


class LazyFunction:
    """`name` from the Python file at `path`, imported on the first call."""

    def __init__(self, path: Path, name: str):
        self.path, self.name = path, name
        self._fn: Callable[..., Any] | None = None
        self._lock = threading.Lock()

    def __call__(self, *args: Any) -> Any:
        with self._lock:
            if self._fn is None:
                self._fn = self._load()
        return self._fn(*args)

    def _load(self) -> Callable[..., Any]:
        spec = importlib.util.spec_from_file_location(f"bakeoff_suite_{self.path.stem}", self.path)
        module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
        try:
            spec.loader.exec_module(module)  # type: ignore[union-attr]
        except (Exception, SystemExit) as exc:  # noqa: BLE001 - user code: report, don't crash
            raise PythonLoadError(f"{self.path.name} failed to load: {type(exc).__name__}: {exc}") from None
        fn = getattr(module, self.name, None)
        if not callable(fn):
            raise PythonLoadError(f"{self.path.name}: {self.name!r} is not a function")
        return fn


def _top_level_names(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        else:  # assignments, and definitions inside top-level if/try blocks
            for t in ast.walk(node):
                if isinstance(t, ast.Name) and isinstance(t.ctx, ast.Store):
                    names.add(t.id)
                elif isinstance(t, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    names.add(t.name)
    return names


def load_python_function(path: Path, name: str, shown: str | None = None) -> LazyFunction:
    """`name` from the Python file at `path`, checked (the file parses and defines the name) but not
    imported. `shown` is how the suite wrote the file name, for messages."""
    shown = shown or path.name
    path = path.resolve()
    if not path.is_file():
        raise ValueError(f"python file {shown!r} not found (looked in {path.parent})")
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    except (SyntaxError, UnicodeDecodeError, ValueError, RecursionError, MemoryError) as exc:
        where = f" at line {exc.lineno}" if isinstance(exc, SyntaxError) and exc.lineno else ""
        raise ValueError(f"python file {shown!r} does not parse{where}: {type(exc).__name__}: {exc}") from None
    if name not in _top_level_names(tree):
        raise ValueError(f"python file {shown!r} has no function {name!r}")
    return LazyFunction(path, name)


def make_inline_function(code: str) -> Callable[[str, dict[str, Any]], Any]:
    """promptfoo's inline python: one line is an expression to return; several lines are the body
    of `def main(output, context)`. Both see `output`, `context` and the json module. Only the
    definition runs here; the body runs when an output is graded."""
    body = textwrap.indent(code if "\n" in code.strip() else f"return {code.strip()}", "    ")
    source = f"import json\n\ndef main(output, context):\n{body}\n"
    scope: dict[str, Any] = {}
    try:
        exec(compile(source, "<inline python assertion>", "exec"), scope)  # noqa: S102 - the suite's own code
    except SyntaxError as exc:
        raise ValueError(f"inline python does not compile: {exc.msg} (line {(exc.lineno or 3) - 3})") from None
    except (RecursionError, MemoryError, ValueError) as exc:  # nested too deep, NUL bytes
        raise ValueError(f"inline python does not compile: {type(exc).__name__}: {exc}") from None
    return scope["main"]


def python_score(value: Any) -> float | None:
    """What a python check returned, as a finite score (bools count as 0/1; numpy's scalars are
    numbers too), else None."""
    if not isinstance(value, numbers.Real):
        return None
    try:
        score = float(value)
    except (OverflowError, ValueError):   # an int past float's range
        return None
    return score if math.isfinite(score) else None


def shown_value(value: Any, n: int = 60) -> str:
    """A returned value as an error shows it, short (an int past 4,300 digits has no repr)."""
    try:
        text = " ".join(repr(value).split())
    except ValueError:
        return f"an integer of {value.bit_length()} bits"
    return text if len(text) <= n else text[: n - 1] + "…"
