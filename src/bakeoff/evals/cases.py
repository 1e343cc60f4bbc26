"""What a suite is made of, below the suite loader: a `Case`, YAML parsed with line numbers kept,
errors located in a file (`Located`), case files (JSONL, CSV, YAML lists) and prompt templates.

`build.py` turns validated specs into Cases with these; `suite.py` finds and loads a suite file.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from ..engines.base import GenParams, Message
from ..errors import SuiteError
from .assertions import REGISTRY, split_type
from .schema import CaseSpec

# Cases run greedy and short unless the suite says otherwise: results must be reproducible.
CASE_DEFAULTS = {"temperature": 0.0, "max_tokens": 64}
_VAR = re.compile(r"\{\{\s*([A-Za-z_][\w]*)\s*\}\}")
Loc = tuple[Any, ...]


@dataclass
class Case:
    id: str
    system: str | None
    prompt: str
    vars: dict[str, Any]
    asserts: list[dict[str, Any]]
    threshold: float
    params: GenParams
    source: str                      # "file:line" where the case is written
    examples: list[tuple[str, str]] = field(default_factory=list)  # few-shot (user, assistant)

    def messages(self) -> list[Message]:
        msgs = [Message(role="system", content=self.system)] if self.system else []
        for user, assistant in self.examples:
            msgs += [Message(role="user", content=user), Message(role="assistant", content=assistant)]
        return msgs + [Message(role="user", content=self.prompt)]


# --- YAML with locations ---------------------------------------------------------------------

def _locations(node: yaml.Node, path: Loc, out: dict[Loc, int]) -> None:
    out[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            sub = (*path, key.value)
            out[sub] = key.start_mark.line + 1
            _locations(value, sub, out)
            out[sub] = key.start_mark.line + 1  # the key's line names the field best
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _locations(item, (*path, i), out)


def parse_yaml(text: str, file: str) -> tuple[Any, dict[Loc, int]]:
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        raise SuiteError(f"YAML error: {problem}", file, mark.line + 1 if mark else None,
                         hint="fix the YAML syntax at that line") from None
    finally:
        loader.dispose()
    locs: dict[Loc, int] = {}
    if node is not None:
        _locations(node, (), locs)
    return data, locs


def line_of(locs: dict[Loc, int], path: Loc) -> int | None:
    for n in range(len(path), -1, -1):
        if tuple(path[:n]) in locs:
            return locs[tuple(path[:n])]
    return None


def _field(path: Loc) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else (f".{p}" if i else str(p))
                   for i, p in enumerate(path))


class Located:
    """Raises SuiteErrors that point into one file."""

    def __init__(self, file: str, locs: dict[Loc, int] | None = None, line: int | None = None):
        self.file, self.locs, self.line = file, locs or {}, line

    def error(self, path: Loc, message: str, hint: str | None = None) -> SuiteError:
        line = line_of(self.locs, path) if self.locs else self.line
        return SuiteError(message, self.file, line, _field(path) or None, hint)

    def validate(self, model: type[BaseModel], data: Any, base: Loc = ()) -> Any:
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            err = exc.errors()[0]
            path = (*base, *err["loc"])
            msg = err["msg"]
            if err["type"] == "extra_forbidden":
                msg = f"unknown field {err['loc'][-1]!r}"
            raise self.error(path, msg) from None


# --- case files (JSONL, CSV, YAML list) --------------------------------------------------------

_CASE_KEYS = set(CaseSpec.model_fields) | {"assert"}


def _row_case(row: dict[str, Any]) -> dict[str, Any]:
    """A row in the case shape stays; any other row is all vars."""
    return row if row and set(row) <= _CASE_KEYS else {"vars": row}


def _csv_case(row: dict[str, str]) -> dict[str, Any]:
    """CSV columns are vars; `__id` names the case and `__expected` is `type: value` (or equals)."""
    case: dict[str, Any] = {"vars": {k: v for k, v in row.items() if not k.startswith("__")}}
    if row.get("__id"):
        case["id"] = row["__id"]
    expected = (row.get("__expected") or "").strip()
    if expected:
        kind, sep, value = expected.partition(":")
        known = sep and split_type(kind.strip())[0] in REGISTRY
        case["assert"] = [{"type": kind.strip(), "value": value.strip()} if known
                          else {"type": "equals", "value": expected}]
    return case


def jsonl_rows(text: str, shown: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-blank line; a bad line stops with file and line."""
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise SuiteError(f"invalid JSON: {exc.msg}", shown, n) from None
        if not isinstance(row, dict):
            raise SuiteError("each line must be a JSON object", shown, n)
        yield n, row


def read_case_file(path: Path, shown: str) -> list[tuple[dict[str, Any], Located, Loc]]:
    """Rows as (raw case, locator, base path) so errors point at the row's own line."""
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise SuiteError(f"cannot read case file: {getattr(exc, 'strerror', None) or exc}", shown,
                         hint="check the cases_from path (relative to the suite file)") from None
    rows: list[tuple[dict[str, Any], Located, Loc]] = []
    if path.suffix == ".jsonl":
        for n, row in jsonl_rows(text, shown):
            rows.append((_row_case(row), Located(shown, line=n), ()))
    elif path.suffix == ".csv":
        reader = csv.DictReader(text.splitlines())
        for row in reader:
            rows.append((_csv_case(row), Located(shown, line=reader.line_num), ()))
    elif path.suffix in (".yaml", ".yml"):
        data, locs = parse_yaml(text, shown)
        if not isinstance(data, list):
            raise SuiteError("a YAML case file is a list of cases", shown, 1)
        rows = [(_row_case(r) if isinstance(r, dict) else r, Located(shown, locs), (i,))
                for i, r in enumerate(data)]
    else:
        raise SuiteError(f"unsupported case file type {path.suffix!r}", shown,
                         hint="use .jsonl, .csv or .yaml")
    return rows


def build_params(base: dict[str, Any], override: dict[str, Any]) -> GenParams:
    values = {**CASE_DEFAULTS, **base, **override}
    return GenParams.build(**values)


def render(template: str, values: dict[str, Any]) -> str:
    return _VAR.sub(lambda m: str(values[m.group(1)]), template)


def missing_vars(template: str, values: dict[str, Any]) -> list[str]:
    return [m.group(1) for m in _VAR.finditer(template) if m.group(1) not in values]

