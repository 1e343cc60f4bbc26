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

from ..errors import NotFoundError, SuiteError
from .build import build_cases
from .cases import Case, Located, parse_yaml
from .schema import BenchmarkEntry, SuiteSpec

__all__ = ["Case", "Suite", "builtin_suites", "find_suite", "load_suite"]


@dataclass
class Suite:
    name: str
    path: str
    description: str
    cases: list[Case]
    judge: str | None = None
    benchmarks: list[BenchmarkEntry] = field(default_factory=list)

    @property
    def sha256(self) -> str:
        """Identity of what runs (prompts, params, assertions): a rerun resumes only the same suite."""
        payload = [[c.id, c.system, c.examples, c.prompt, c.params.cache_key(), c.threshold,
                    [{k: v for k, v in a.items() if not k.startswith("_")} for a in c.asserts]]
                   for c in self.cases]
        payload.append([b.model_dump() for b in self.benchmarks])
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


def load_suite(name_or_path: str | Path) -> Suite:
    path = find_suite(str(name_or_path))
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise SuiteError(f"cannot read suite: {exc}", str(path)) from None
    data, locs = parse_yaml(text, str(path))
    where = Located(str(path), locs)
    if not isinstance(data, dict):
        raise where.error((), "a suite is a YAML mapping with at least `cases:`")
    spec: SuiteSpec = where.validate(SuiteSpec, data)
    cases = build_cases(spec, where, path.parent)
    if not cases and not spec.benchmarks:
        raise where.error(("cases",), "the suite has no cases", "add cases: or cases_from:")
    return Suite(spec.name or path.stem, str(path), spec.description or "", cases, spec.judge,
                 list(spec.benchmarks))
