"""Read a promptfoo config (promptfooconfig.yaml) as a Bakeoff suite.

promptfoo runs every prompt x provider x test; here each (test, prompt) pair is a case and each
provider is a contestant. Test ids are the test's description (or test-N), with the prompt's label
added when the config has several prompts. Vars, prompts and assertion values are rendered with
Jinja2 (promptfoo renders with Nunjucks, whose `{{ var }}`, filters and `{% if %}` agree).

Everything the reader cannot carry over is listed on `Suite.unsupported` as "file:line: key: why";
the CLI prints that list before the run starts. Assertions of unsupported types are left out of
the case (listed), so the remaining verdicts are promptfoo's for the remaining assertions.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from ...errors import SuiteError
from ...models.registry import Registry
from ..cases import CASE_DEFAULTS, Case, Loc, Located, build_params, line_of, parse_yaml
from ..suite import Contestant, Suite
from . import promptfoo_checks as checks
from .promptfoo_providers import ProviderError, check_unique, judge_name, map_provider, provider_entry
from .promptfoo_tests import (
    MAX_EXPANDED_CASES,
    Prompt,
    RawTest,
    chat_messages,
    count_combinations,
    expand_vars,
    prompts_from_file,
    read_file_ref,
)

TOP_KEYS = {"description", "prompts", "providers", "tests", "defaultTest", "targets"}
TEST_KEYS = {"description", "vars", "assert", "threshold", "options", "metadata"}
ASSERT_KEYS = {"type", "value", "weight", "threshold", "metric"}
OPTION_KEYS = {"prefix", "suffix", "provider"}


@functools.cache
def _jinja() -> Any:
    """Jinja2, loaded when a promptfoo config is read (never when the CLI merely starts)."""
    import jinja2

    return jinja2, jinja2.Environment(undefined=jinja2.Undefined, autoescape=False, keep_trailing_newline=True)


def looks_like_promptfoo(path: Path, data: Any) -> bool:
    """promptfooconfig.y(a)ml by name, or a mapping with promptfoo's top-level keys."""
    if path.name.startswith("promptfooconfig"):
        return True
    return isinstance(data, dict) and "cases" not in data and bool({"prompts", "providers", "tests"} & set(data))


def render(template: str, values: dict[str, Any], where: Located, path: Loc) -> str:
    jinja2, env = _jinja()
    try:
        return env.from_string(template).render(**values)
    except jinja2.TemplateError as exc:
        raise where.error(path, f"template error: {exc}", "promptfoo templates use {{ var }}") from None


class PromptfooReader:
    def __init__(self, path: Path, data: dict[str, Any], locs: dict[Loc, int]):
        self.path, self.data, self.base = path, data, path.parent
        self.where = Located(str(path), locs)
        self.unsupported: list[str] = []
        self.n_tests = 0
        self.n_cases = 0
        self.known = set(checks.supported_types()) | {"javascript", "similar", "rouge-n", "bleu",
                                                       "factuality", "model-graded-closedqa"}

    def report(self, where: Located, path: Loc, why: str) -> None:
        line = line_of(where.locs, path) if where.locs else where.line
        key = ".".join(str(p) for p in path) or "(config)"
        self.unsupported.append(f"{where.file}:{line}: {key}: {why}")

    # --- the whole config ----------------------------------------------------------------------

    def suite(self) -> Suite:
        for key in self.data:
            if key not in TOP_KEYS:
                self.report(self.where, (key,), "not supported by Bakeoff (ignored)")
        prompts = self.prompts()
        contestants = self.contestants()
        default = self.default_test()
        cases: list[Case] = []
        seen: dict[str, int] = {}
        for raw in self.tests():
            for case in self.cases_for(raw, default, prompts):
                n = seen.get(case.id, 0)
                seen[case.id] = n + 1
                if n:
                    case.id = f"{case.id} #{n + 1}"
                cases.append(case)
        if not cases:
            raise self.where.error(("tests",), "the config has no tests", "add tests: [{vars: ..., assert: ...}]")
        judge = judge_name((default.get("options") or {}).get("provider"))
        if judge and judge.lower().endswith(".gguf"):
            judge = str(self.base / judge)
        return Suite(str(self.data.get("description") or self.path.stem), str(self.path),
                     str(self.data.get("description") or ""), cases, judge=judge,
                     contestants=contestants, unsupported=self.unsupported)

    # --- prompts -------------------------------------------------------------------------------

    def prompts(self) -> list[Prompt]:
        raw = self.data.get("prompts")
        if raw is None:
            return [Prompt("{{prompt}}", [("user", "{{prompt}}")])]  # promptfoo's default
        items = raw if isinstance(raw, list) else [raw]
        out: list[Prompt] = []
        for i, item in enumerate(items):
            path = ("prompts", i) if isinstance(raw, list) else ("prompts",)
            label = None
            if isinstance(item, dict):
                label, item = item.get("label"), item.get("raw", item.get("id"))
            if not isinstance(item, str):
                raise self.where.error(path, "a prompt is a string, file://PATH or {raw|id, label}")
            if item.startswith("file://"):
                if item.rsplit(".", 1)[-1].split(":")[0] in ("py", "js", "ts", "mjs", "cjs"):
                    self.report(self.where, path, "prompt functions (.py/.js) are not supported (skipped)")
                    continue
                try:
                    found = prompts_from_file(item, self.base)
                except OSError as exc:
                    raise self.where.error(path, f"cannot read prompt file: {exc.strerror or exc}",
                                           f"paths are relative to {self.base}") from None
                out += [Prompt(label or p.label, p.messages) for p in found]
                continue
            out.append(Prompt(label or item, chat_messages(item) or [("user", item)]))
        if not out:
            raise self.where.error(("prompts",), "no prompt Bakeoff can run")
        return out

    # --- providers ----------------------------------------------------------------------------

    def contestants(self) -> list[Contestant]:
        key = "providers" if "providers" in self.data else "targets"
        raw = self.data.get(key) or []
        items = raw if isinstance(raw, list) else [raw]
        registry = Registry()
        out = []
        for i, item in enumerate(items):
            path = (key, i) if isinstance(raw, list) else (key,)
            try:
                pid, label, config = provider_entry(item)
                contestant = map_provider(pid, label, config, registry, self.base,
                                          lambda p, why: self.report(self.where, p, why), path)
            except ProviderError as exc:
                raise self.where.error(path, str(exc)) from None
            try:
                build_params(CASE_DEFAULTS, contestant.params)
            except Exception as exc:  # noqa: BLE001 - InvalidParamsError: name the provider's line
                raise self.where.error((*path, "config"), str(exc)) from None
            out.append(contestant)
        try:
            check_unique(out)
        except Exception as exc:  # noqa: BLE001
            raise self.where.error((key,), str(exc)) from None
        return out

    # --- tests ---------------------------------------------------------------------------------

    def default_test(self) -> dict[str, Any]:
        raw = self.data.get("defaultTest") or {}
        if isinstance(raw, str) and raw.startswith("file://"):
            found = read_file_ref(raw, self.base, self.where, ("defaultTest",), self.known)
            raw = found[0].data if found else {}
        if not isinstance(raw, dict):
            raise self.where.error(("defaultTest",), "defaultTest is a mapping (vars, assert, options, threshold)")
        self.check_test_keys(raw, self.where, ("defaultTest",))
        return raw

    def tests(self) -> list[RawTest]:
        raw = self.data.get("tests")
        if raw is None:
            return [RawTest({}, self.where, ("tests",))]
        items = raw if isinstance(raw, list) else [raw]
        out: list[RawTest] = []
        for i, item in enumerate(items):
            path = ("tests", i) if isinstance(raw, list) else ("tests",)
            if isinstance(item, str):
                if not item.startswith("file://"):
                    raise self.where.error(path, "a test is a mapping or file://PATH")
                out += read_file_ref(item, self.base, self.where, path, self.known)
            elif isinstance(item, dict):
                out.append(RawTest(item, self.where, path))
            else:
                raise self.where.error(path, "a test is a mapping or file://PATH")
        return out

    def check_test_keys(self, test: dict[str, Any], where: Located, path: Loc) -> None:
        for key in test:
            if key not in TEST_KEYS:
                self.report(where, (*path, key), "test field not supported by Bakeoff (ignored)")
        for key in (test.get("options") or {}):
            if key not in OPTION_KEYS or (key == "provider" and path[-1:] != ("defaultTest",)):
                self.report(where, (*path, "options", key), "option not supported by Bakeoff (ignored)")

    def cases_for(self, raw: RawTest, default: dict[str, Any], prompts: list[Prompt]) -> list[Case]:
        test, where, path = raw.data, raw.where, raw.path
        if not isinstance(test, dict):
            raise where.error(path, "a test is a mapping (vars, assert, description, threshold)")
        self.check_test_keys(test, where, path)
        self.n_tests += 1
        values = {**(default.get("vars") or {}), **(test.get("vars") or {})}
        values = {k: self.var_value(v, where, (*path, "vars", k)) for k, v in values.items()}
        threshold = test.get("threshold", default.get("threshold"))
        options = {**(default.get("options") or {}), **(test.get("options") or {})}
        specs = [(a, self.where, ("defaultTest", "assert", i)) for i, a in enumerate(default.get("assert") or [])]
        specs += [(a, where, (*path, "assert", i)) for i, a in enumerate(test.get("assert") or [])]
        line = line_of(where.locs, path) if where.locs else where.line
        self.n_cases += count_combinations(values) * len(prompts)
        if self.n_cases > MAX_EXPANDED_CASES:
            raise where.error((*path, "vars"), f"the config expands to more than {MAX_EXPANDED_CASES:,} cases "
                              "(every combination of list-valued vars, for each prompt)",
                              "use fewer list values per var, or split the config")
        cases = []
        for combo in expand_vars(values):
            asserts = [s for s in (self.assertion(a, w, p, combo) for a, w, p in specs) if s is not None]
            for prompt in prompts:
                name = str(test.get("description") or f"test-{self.n_tests}")
                if len(prompts) > 1:
                    name = f"{name} [{prompt.label[:40]}]"
                cases.append(self.case(name, prompt, combo, options, asserts, threshold, f"{where.file}:{line}",
                                       where, path))
        return cases

    def var_value(self, value: Any, where: Located, path: Loc) -> Any:
        if isinstance(value, list):
            return [self.var_value(v, where, path) for v in value]
        if isinstance(value, str) and value.startswith("file://"):
            file = self.base / value.removeprefix("file://")
            if file.suffix in (".py", ".js", ".ts", ".mjs", ".cjs"):
                raise where.error(path, f"vars from scripts ({file.suffix}) are not supported",
                                  "put the value itself, or a text file, in the var")
            try:
                return file.read_text()
            except OSError as exc:
                raise where.error(path, f"cannot read {file}: {exc.strerror or exc}") from None
        return value

    def file_value(self, ref: str, where: Located, path: Loc) -> Any:
        """An assertion value from file:// (promptfoo: JSON and YAML parsed, anything else text)."""
        file = self.base / ref.removeprefix("file://")
        try:
            text = file.read_text()
            return parse_yaml(text, str(file))[0] if file.suffix in (".json", ".yaml", ".yml") else text
        except (OSError, UnicodeDecodeError) as exc:
            raise where.error(path, f"cannot read {file}: {getattr(exc, 'strerror', None) or exc}") from None

    def assertion(self, spec: Any, where: Located, path: Loc, values: dict[str, Any]) -> dict[str, Any] | None:
        if not isinstance(spec, dict) or "type" not in spec:
            raise where.error(path, "an assertion is a mapping with a `type`")
        kind = str(spec["type"])
        if kind.removeprefix("not-") not in checks.CHECKS:
            self.report(where, (*path, "type"), f"assertion type {kind!r} not supported by Bakeoff (left out; "
                        f"supported: {', '.join(checks.supported_types())})")
            return None
        for key in spec:
            if key not in ASSERT_KEYS:
                self.report(where, (*path, key), "assertion field not supported by Bakeoff (ignored)")
        value = spec.get("value")
        if isinstance(value, str) and value.startswith("file://") and kind.removeprefix("not-") not in (
                "python", "is-json", "contains-json"):
            value = self.file_value(value, where, (*path, "value"))
        if isinstance(value, str) and not value.startswith("file://"):
            value = render(value, values, where, (*path, "value"))
        elif isinstance(value, list):
            value = [render(v, values, where, (*path, "value")) if isinstance(v, str) else v for v in value]
        weight = spec.get("weight", 1)
        prepared = {"type": kind, "value": value, "weight": float(weight if weight is not None else 1),
                    "threshold": spec.get("threshold"), "metric": spec.get("metric")}
        try:
            return checks.prepare(prepared, self.base)
        except ValueError as exc:
            raise where.error((*path, "value"), str(exc)) from None

    def case(self, name: str, prompt: Prompt, values: dict[str, Any], options: dict[str, Any],
             asserts: list[dict[str, Any]], threshold: Any, source: str, where: Located, path: Loc) -> Case:
        messages = [(role, render(t, values, where, (*path, "vars"))) for role, t in prompt.messages]
        prefix, suffix = str(options.get("prefix") or ""), str(options.get("suffix") or "")
        system = None
        if messages and messages[0][0] == "system":
            system = messages.pop(0)[1]
        if not messages or messages[-1][0] != "user":
            raise where.error(path, f"prompt {prompt.label!r} must end with a user message")
        turns = messages[:-1]
        roles = [r for r, _ in turns]
        if roles != ["user", "assistant"] * (len(turns) // 2):
            raise where.error(path, f"prompt {prompt.label!r}: Bakeoff runs system, then user/assistant pairs, "
                                    "then a user message")
        examples = [(turns[i][1], turns[i + 1][1]) for i in range(0, len(turns), 2)]
        return Case(id=name, system=system, prompt=prefix + messages[-1][1] + suffix, vars=values,
                    asserts=asserts, threshold=float(threshold) if threshold is not None else None,
                    params=build_params({}, {}), source=source, examples=examples, scoring="promptfoo")


def load_promptfoo(path: Path, data: Any, locs: dict[Loc, int]) -> Suite:
    if not isinstance(data, dict):
        raise SuiteError("a promptfoo config is a YAML mapping (prompts, providers, tests)", str(path), 1)
    return PromptfooReader(path, data, locs).suite()
