"""What a suite is made of, below the suite loader: a `Case`, YAML parsed with line numbers kept,
errors located in a file (`Located`), case files (JSONL, CSV, YAML lists) and prompt templates.

`build.py` turns validated specs into Cases with these; `suite.py` finds and loads a suite file.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from .. import jsontext
from ..engines.base import GenParams, Message
from ..engines.toolcalls import Tool
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
    threshold: float | None          # None: every counted assertion must pass
    params: GenParams
    source: str                      # "file:line" where the case is written
    examples: list[tuple[str, str]] = field(default_factory=list)  # few-shot (user, assistant)
    scoring: str = "bakeoff"         # how assertions combine: "bakeoff" or "promptfoo" (evals.grade)
    tools: list[Tool] = field(default_factory=list)   # functions offered to the model
    forced: str | None = None        # a call is required: "*" (any offered function) or its name
    history: list[tuple[str, str]] = field(default_factory=list)  # earlier turns (role, content)

    def messages(self) -> list[Message]:
        msgs = [Message(role="system", content=self.system)] if self.system else []
        for user, assistant in self.examples:
            msgs += [Message(role="user", content=user), Message(role="assistant", content=assistant)]
        msgs += [Message(role=role, content=content) for role, content in self.history]
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


# A suite expands to at most this many YAML nodes once aliases are followed: a few hundred bytes of
# nested aliases ("billion laughs") would otherwise take gigabytes and minutes to walk.
MAX_EXPANDED_NODES = 500_000


def expanded_size(node: yaml.Node, file: str) -> int:
    """Nodes in the document with every alias expanded, counted without expanding (each distinct
    node once, memoised); raises SuiteError past MAX_EXPANDED_NODES or on a recursive alias."""
    sizes: dict[int, int] = {}
    stack: list[tuple[yaml.Node, bool]] = [(node, False)]
    open_: set[int] = set()
    while stack:
        cur, done = stack.pop()
        if done:
            open_.discard(id(cur))
            sizes[id(cur)] = 1 + sum(sizes[id(c)] for c in _children(cur))
            if sizes[id(cur)] > MAX_EXPANDED_NODES:
                raise SuiteError(f"the YAML expands to more than {MAX_EXPANDED_NODES:,} nodes through "
                                 "aliases", file, cur.start_mark.line + 1,
                                 hint="use fewer nested aliases (&name / *name)")
            continue
        if id(cur) in sizes:
            continue
        if id(cur) in open_:
            raise SuiteError("a YAML alias refers to itself", file, cur.start_mark.line + 1,
                             hint="remove the recursive alias")
        open_.add(id(cur))
        stack.append((cur, True))
        stack.extend((c, False) for c in _children(cur) if id(c) not in sizes)
    return sizes[id(node)]


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def csv_reader(text: str) -> csv.DictReader:
    """Rows of a CSV file's text, as the csv module means them: a quoted cell keeps its line breaks
    (splitting the text into lines first dropped them), and a cell may be as long as the file
    (the module's default cap, 128 KiB, failed long documents with an unexpected error)."""
    csv.field_size_limit(max(csv.field_size_limit(), len(text) + 1))
    return csv.DictReader(io.StringIO(text, newline=""))


def parse_yaml(text: str, file: str) -> tuple[Any, dict[Loc, int]]:
    loader = yaml.SafeLoader(text)
    locs: dict[Loc, int] = {}
    try:
        node = loader.get_single_node()
        if node is not None:
            expanded_size(node, file)
        data = loader.construct_document(node) if node is not None else None
        if node is not None:
            _locations(node, (), locs)
        where = jsontext.lone_surrogate(data)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        raise SuiteError(f"YAML error: {problem}", file, mark.line + 1 if mark else None,
                         hint="fix the YAML syntax at that line") from None
    except RecursionError:   # PyYAML recurses once per level: [[[[... a few thousand deep
        raise SuiteError("the YAML is nested too deeply to read", file, None,
                         hint="nest lists and mappings at most a few hundred levels deep") from None
    finally:
        loader.dispose()
    if where:   # YAML's "\\ud800" escape: a str no tokenizer or database takes
        raise SuiteError(f"{where} holds a lone UTF-16 surrogate, which is not text", file,
                         hint="write the character itself, or a valid pair such as \\ud83d\\ude00")
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


def jsonl_objects(text: str, shown: str) -> list[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-empty line; anything but a JSON object names its line."""
    rows = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = jsontext.loads(line)
        except json.JSONDecodeError as exc:
            raise SuiteError(f"invalid JSON: {exc.msg}", shown, n) from None
        if not isinstance(row, dict):
            raise SuiteError("each line must be a JSON object", shown, n)
        rows.append((n, row))
    return rows


def read_case_file(path: Path, shown: str) -> list[tuple[dict[str, Any], Located, Loc]]:
    """Rows as (raw case, locator, base path) so errors point at the row's own line."""
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise SuiteError(f"cannot read case file: {getattr(exc, 'strerror', None) or exc}", shown,
                         hint="check the cases_from path (relative to the suite file)") from None
    rows: list[tuple[dict[str, Any], Located, Loc]] = []
    if path.suffix == ".jsonl":
        rows = [(_row_case(row), Located(shown, line=n), ()) for n, row in jsonl_objects(text, shown)]
    elif path.suffix == ".csv":
        reader = csv_reader(text)
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


def render_known(template: str, values: dict[str, Any]) -> str:
    """Like `render`, leaving `{{name}}` as written when the case has no such var."""
    return _VAR.sub(lambda m: str(values[m.group(1)]) if m.group(1) in values else m.group(0), template)


def missing_vars(template: str, values: dict[str, Any]) -> list[str]:
    return [m.group(1) for m in _VAR.finditer(template) if m.group(1) not in values]

