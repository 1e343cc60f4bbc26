"""Turn a validated SuiteSpec into runnable Cases: render prompts, merge defaults, prepare assertions."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

from ..engines.toolcalls import Tool, ToolSpecError, parse_tools
from ..errors import InvalidParamsError
from . import assertions as A
from .cases import Case, Loc, Located, build_params, missing_vars, read_case_file, render, render_known
from .formats.datasets import need_columns, pick_rows, read_dataset
from .schema import AssertSpec, CaseSpec, DatasetSpec, SuiteSpec


def prepare_assertion(spec: AssertSpec, where: Located, path: Loc, base_dir: Path,
                      values: dict[str, Any] | None = None) -> dict[str, Any]:
    """Check and load one assertion; `{{var}}` in a string value becomes the case's var."""
    if values and isinstance(spec.value, str):
        spec = spec.model_copy(update={"value": render_known(spec.value, values)})
    kind, _ = A.split_type(spec.type)
    if kind not in A.REGISTRY:
        close = difflib.get_close_matches(kind, A.known_types(), n=3)
        hint = f"did you mean {', '.join(close)}?" if close else f"known types: {', '.join(A.known_types())}"
        raise where.error((*path, "type"), f"unknown assertion type {spec.type!r}", hint)
    entry = A.REGISTRY[kind]
    raw = spec.model_dump()
    if entry.needs_value and raw["value"] is None:
        raise where.error((*path, "type"), f"assertion {spec.type!r} needs a value")
    if entry.prepare is None:
        return raw
    try:
        return entry.prepare(raw, base_dir)
    except ValueError as exc:
        raise where.error((*path, "value"), str(exc)) from None


def _case_params(suite: SuiteSpec, case: CaseSpec, where: Located, path: Loc,
                 suite_where: Located) -> Any:
    try:
        return build_params(suite.params, case.params)
    except InvalidParamsError as exc:
        name = (exc.param or "").split(".")[0]
        if name in case.params:
            raise where.error((*path, "params", name), exc.message) from None
        raise suite_where.error(("params", name), exc.message) from None


def build_case(suite: SuiteSpec, case: CaseSpec, index: int, where: Located, path: Loc,
               suite_where: Located, base_dir: Path) -> Case:
    values = {**suite.defaults.vars, **case.vars}
    template = case.prompt if case.prompt is not None else suite.prompt
    if template is None:
        raise where.error((*path, "prompt"), "no prompt: set `prompt:` on the suite or on the case")
    system = case.system if case.system is not None else suite.system
    for text, fld in ((template, "prompt"), (system or "", "system")):
        missing = missing_vars(text, values)
        if missing:
            raise where.error((*path, "vars"), f"{fld} uses {{{{{missing[0]}}}}} but the case has no "
                              f"variable {missing[0]!r}", f"add {missing[0]} to the case's vars")
    asserts = [prepare_assertion(a, suite_where, ("defaults", "assert", i), base_dir, values)
               for i, a in enumerate(suite.defaults.asserts)]
    asserts += [prepare_assertion(a, where, (*path, "assert", i), base_dir, values)
                for i, a in enumerate(case.asserts)]
    if not asserts:
        raise where.error(path, "the case has no assertions", "add assert: [{type: ..., value: ...}]")
    line = where.locs.get(path) if where.locs else where.line
    tools, forced = _case_tools(suite, case, where, path)
    return Case(id=case.id or f"case-{index + 1}", system=render(system, values) if system else None,
                prompt=render(template, values), vars=values, asserts=asserts,
                threshold=case.threshold if case.threshold is not None else suite.defaults.threshold,
                params=_case_params(suite, case, where, path, suite_where), source=f"{where.file}:{line}",
                examples=[(e.user, e.assistant) for e in suite.examples], tools=tools, forced=forced,
                history=[(t.role, t.content) for t in case.history])


def _case_tools(suite: SuiteSpec, case: CaseSpec, where: Located, path: Loc) -> tuple[list[Tool], str | None]:
    """The functions a case offers (its own, else the suite's) and whether a call is forced."""
    specs = case.tools if case.tools is not None else suite.tools
    where_tools = (*path, "tools") if case.tools is not None else ("tools",)
    try:
        tools = parse_tools(specs)
    except ToolSpecError as exc:
        raise where.error((*where_tools, exc.index, *exc.path), exc.message) from None
    choice = case.tool_choice or suite.tool_choice or "auto"
    if choice == "none":
        return [], None
    if choice not in ("auto", "required") and choice not in {t.name for t in tools}:
        raise where.error((*path, "tool_choice"), f"tool_choice {choice!r} is not auto, required, none or "
                          f"an offered function ({', '.join(t.name for t in tools) or 'none offered'})")
    return tools, None if choice == "auto" else "*" if choice == "required" else choice


def dataset_cases(suite: SuiteSpec, ds: DatasetSpec, where: Located,
                  base_dir: Path) -> list[tuple[dict[str, Any], Located, Loc]]:
    """One raw case per picked row: mapped columns as vars, `expected` from its column; with an
    expected column and no assertions of the suite's own, the answer must contain it (icontains)."""
    try:
        table = read_dataset(ds.source, base_dir, ds.subset, ds.split, ds.revision)
        mapping = ds.vars or {c: c for c in table.columns}
        wanted = {f"vars.{k}": c for k, c in mapping.items()}
        wanted.update({k: c for k, c in (("expected", ds.expected), ("id", ds.id)) if c})
        need_columns(table, wanted)
    except ValueError as exc:
        raise where.error(("cases",), str(exc)) from None
    default = [] if suite.defaults.asserts or not ds.expected else [{"type": "icontains", "value": "{{expected}}"}]
    out = []
    for n, row in pick_rows(table, ds.sample, ds.seed, ds.limit):
        values = {k: row[c] for k, c in mapping.items()}
        if ds.expected:
            values["expected"] = row[ds.expected]
        case = {"id": str(row[ds.id]) if ds.id else f"row-{n + 1}", "vars": values, "assert": default}
        out.append((case, where, ("cases",)))
    return out


def build_cases(suite: SuiteSpec, where: Located, base_dir: Path,
                dataset: DatasetSpec | None = None) -> list[Case]:
    raw: list[tuple[Any, Located, Loc]] = [(c, where, ("cases", i)) for i, c in enumerate(suite.cases)]
    if dataset is not None:
        raw.extend(dataset_cases(suite, dataset, where, base_dir))
    files = [suite.cases_from] if isinstance(suite.cases_from, str) else suite.cases_from
    for i, name in enumerate(files):
        path = base_dir / name
        if not path.is_file():
            raise where.error(("cases_from", i) if isinstance(suite.cases_from, list) else ("cases_from",),
                              f"case file {name!r} not found", f"paths are relative to {base_dir}")
        raw.extend(read_case_file(path, str(path)))
    cases: list[Case] = []
    seen: dict[str, str] = {}
    for index, (data, loc, at) in enumerate(raw):
        spec = data if isinstance(data, CaseSpec) else loc.validate(CaseSpec, data, at)
        case = build_case(suite, spec, index, loc, at, where, base_dir)
        if case.id in seen:
            raise loc.error((*at, "id"), f"duplicate case id {case.id!r} (first at {seen[case.id]})")
        seen[case.id] = case.source
        cases.append(case)
    return cases
