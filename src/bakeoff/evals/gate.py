"""The CI gate for `bakeoff run`: a pass-rate floor and "not significantly worse than a baseline".

The baseline is an earlier run in the store or its exported `results.json` (from another machine,
say, kept in the repository). Each model is compared with the model of the same name in the
baseline (or the one model each side has) on their common cases with the exact McNemar test,
Holm-adjusted across the models; a model fails when the baseline is significantly better.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InvalidParamsError
from .compare import check_same_suite, cross_run
from .stats import PairedComparison, format_p


@dataclass
class Check:
    """One thing the gate checked: a pass-rate floor for a model, or a model against its baseline."""

    name: str
    failure: str | None = None


@dataclass
class GateResult:
    checks: list[Check] = field(default_factory=list)
    comparisons: list[PairedComparison] = field(default_factory=list)
    note: str | None = None

    @property
    def failures(self) -> list[str]:
        return [c.failure for c in self.checks if c.failure]


def read_results_file(path: Path) -> dict[str, Any]:
    """The run stored in a report's results.json."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        run = data["run"]
        run["results"], run["model_rows"], run["suite_name"]  # noqa: B018 - shape check
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InvalidParamsError(f"{path} is not a bakeoff results.json: {exc}", param="baseline",
                                 hint="pass a run id or the results.json a report wrote") from None
    return run


def floor_checks(rows: list[dict[str, Any]], fail_under: float) -> list[Check]:
    out = []
    for r in rows:
        pr, failure = r["pass_rate"], None
        if r["status"] != "done":
            failure = f"{r['model']} did not finish ({r['error'] or r['status']})"
        elif pr["value"] < fail_under:
            failure = (f"{r['model']} passed {pr['value']:.0%} of {pr['n']} cases, under "
                       f"--fail-under {fail_under:.0%}")
        out.append(Check(f"{r['model']} pass rate >= {fail_under:.0%}", failure))
    return out


def baseline_checks(run: dict[str, Any], baseline: dict[str, Any]) -> GateResult:
    side = f"run {run['id']}" if baseline["id"] != run["id"] else "this run"
    note = check_same_suite(baseline, run)
    pairs = cross_run(baseline, run, sides=("baseline", side))
    checks = [Check(f"{p.b} not significantly worse than {p.a}",
                    f"{p.b} is significantly worse than {p.a}: {p.a_only} cases passed only in the "
                    f"baseline, {p.b_only} only now (exact McNemar {format_p(p.p_adjusted)})"
                    if p.better == p.a else None) for p in pairs]
    return GateResult(checks, pairs, note)


def check(run: dict[str, Any], rows: list[dict[str, Any]], fail_under: float | None,
          baseline: dict[str, Any] | None) -> GateResult:
    result = GateResult()
    if baseline is not None:
        result = baseline_checks(run, baseline)
    if fail_under is not None:
        result.checks = floor_checks(rows, fail_under) + result.checks
    return result
