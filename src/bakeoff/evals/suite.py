"""Find and load a suite: YAML (with line numbers kept), cases also from JSONL or CSV files.

Every problem raises SuiteError naming the file, line and field, before any model runs. The
pieces a suite is made of (Case, located YAML, case files) live below, in `cases.py`.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from ..engines.base import GenParams
from ..errors import NotFoundError, SuiteError
from ..models.ref import ModelRef
from .build import build_cases
from .cases import Case, Loc, Located, parse_yaml
from .schema import BenchmarkEntry, DatasetSpec, SuiteSpec

__all__ = ["Case", "Contestant", "Suite", "builtin_suites", "find_suite", "load_suite", "read_suite_file",
           "suite_from_yaml"]


@dataclass
class Contestant:
    """A model a suite names, with generation settings of its own (a promptfoo provider's config)."""

    ref: ModelRef
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class Suite:
    name: str
    path: str
    description: str
    cases: list[Case]
    judge: str | None = None
    benchmarks: list[BenchmarkEntry] = field(default_factory=list)
    # Models named by the suite itself (a promptfoo config's providers); --models overrides them.
    contestants: list[Contestant] = field(default_factory=list)
    # What the reader could not carry over, one line each ("file:line: key: why"), shown before a run.
    unsupported: list[str] = field(default_factory=list)

    def params_for(self, model: str, case: Case) -> GenParams:
        """The case's parameters with the contestant's own settings on top."""
        own = next((c.params for c in self.contestants if c.ref.name == model), None)
        return case.params.model_copy(update=own) if own else case.params

    @property
    def sha256(self) -> str:
        """Identity of what runs (prompts, params, assertions): a rerun resumes only the same suite."""
        payload: list[Any] = [[c.id, c.system, c.examples, c.prompt, c.params.cache_key(), c.threshold,
                    [{k: v for k, v in a.items() if not k.startswith("_")} for a in c.asserts]]
                   + ([[t.spec() for t in c.tools], c.forced] if c.tools else [])
                   + ([["history", c.history]] if c.history else [])   # older suites keep their hash
                   for c in self.cases]
        payload.append([b.model_dump() for b in self.benchmarks])
        if self.contestants or any(c.scoring != "bakeoff" for c in self.cases):  # older suites keep their hash
            payload.append([[[c.ref.name, c.params] for c in self.contestants],
                            [c.scoring for c in self.cases]])
        return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


# --- finding a suite -------------------------------------------------------------------------

def builtin_suites() -> dict[str, Path]:
    folder = resources.files("bakeoff.evals") / "suites"
    return {p.name[:-5]: Path(str(p)) for p in folder.iterdir() if p.name.endswith(".yaml")}


def find_suite(name: str) -> Path:
    path = Path(name).expanduser()
    if path.is_file():
        return path
    builtin = builtin_suites()
    if name in builtin:
        return builtin[name]
    if path.suffix or "/" in name:
        raise SuiteError(f"suite file {name} not found", hint="check the path")
    close = difflib.get_close_matches(name, list(builtin), n=3)
    raise NotFoundError("suite", name, close, valid=sorted(builtin))


def read_suite_file(path: Path) -> tuple[Any, dict[Loc, int]]:
    """A suite file's YAML and the line of every key (any reader: Bakeoff's, promptfoo's)."""
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise SuiteError(f"cannot read suite: {exc}", str(path)) from None
    return parse_yaml(text, str(path))


def load_suite(name_or_path: str | Path) -> Suite:
    path = find_suite(str(name_or_path))
    data, locs = read_suite_file(path)
    return suite_from_yaml(path, data, locs)


def suite_from_yaml(path: Path, data: Any, locs: dict[Loc, int]) -> Suite:
    where = Located(str(path), locs)
    if not isinstance(data, dict):
        raise where.error((), "a suite is a YAML mapping with at least `cases:`")
    dataset = None
    if isinstance(data.get("cases"), (str, dict)):  # cases from a dataset, not a list of cases
        raw = data["cases"]
        dataset = where.validate(DatasetSpec, {"from": raw} if isinstance(raw, str) else raw, ("cases",))
        data = {**data, "cases": []}
    spec: SuiteSpec = where.validate(SuiteSpec, data)
    cases = build_cases(spec, where, path.parent, dataset)
    if not cases and not spec.benchmarks:
        raise where.error(("cases",), "the suite has no cases", "add cases: or cases_from:")
    return Suite(spec.name or path.stem, str(path), spec.description or "", cases, spec.judge,
                 list(spec.benchmarks))
