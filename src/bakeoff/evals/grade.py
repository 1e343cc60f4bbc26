"""Grade one answer: run the case's assertions and combine them.

A case's weighted pass score is sum(weight x passed) / sum(weight); the case passes when that
reaches its threshold (default 1.0: every weighted assertion must pass). Its score is the
weighted mean of the assertions' graded scores (partial credit, e.g. ROUGE-L), reported apart.
Any assertion that could not be graded (judge error, a python check that raised) makes the case
an "error": never a pass. Cases read from a promptfoo config combine by promptfoo's rules instead
(`_promptfoo_grade`), so their verdicts equal promptfoo's.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from .assertions import Context, evaluate
from .cases import Case

PASS, FAIL, ERROR = "pass", "fail", "error"


@dataclass
class Grade:
    status: str                 # pass | fail | error
    score: float                # weighted mean assertion score in [0, 1]
    pass_score: float           # weighted fraction of assertions passed
    reason: str
    assertions: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _weighted(values: list[tuple[float, float]]) -> float:
    total = sum(w for w, _ in values)
    return sum(w * v for w, v in values) / total if total else 0.0


def grade(case: Case, output: str, ctx: Context) -> Grade:
    rows = []
    for spec in case.asserts:
        out = evaluate(output, spec, ctx)
        rows.append({"type": spec["type"], "weight": spec["weight"], "passed": out.passed,
                     "score": round(out.score, 4), "reason": out.reason, "error": out.error,
                     **({"details": out.details} if out.details else {})})
    if case.scoring == "promptfoo":
        return _promptfoo_grade(case, rows)
    counted = [r for r in rows if r["weight"] > 0] or rows
    weights = [(r["weight"] or 1.0) for r in counted]
    pass_score = _weighted([(w, 1.0 if r["passed"] else 0.0) for w, r in zip(weights, counted)])
    score = _weighted([(w, r["score"]) for w, r in zip(weights, counted)])
    errors = [r for r in rows if r["error"]]
    if errors:
        return Grade(ERROR, score, pass_score, f"{errors[0]['error']}: {errors[0]['reason']}", rows)
    failed = [r for r in counted if not r["passed"]]
    threshold = 1.0 if case.threshold is None else case.threshold
    status = PASS if pass_score >= threshold - 1e-9 else FAIL
    reason = "; ".join(r["reason"] for r in failed) if failed else "all assertions pass"
    if status == PASS and failed:
        reason = f"passed at {pass_score:.2f} ≥ {threshold:g}; failed: {reason}"
    return Grade(status, score, pass_score, reason, rows)


def _promptfoo_grade(case: Case, rows: list[dict[str, Any]]) -> Grade:
    """promptfoo's rules (its AssertionsResult): the score is the weighted mean of the assertion
    scores, weight 0 counting for nothing; without a threshold every assertion must pass, with one
    the score must reach it whatever single assertions did."""
    if not rows:
        return Grade(PASS, 1.0, 1.0, "no assertions", rows)
    total = sum(r["weight"] for r in rows)
    score = sum(r["weight"] * r["score"] for r in rows) / total if total else 0.0
    pass_score = _weighted([(r["weight"], 1.0 if r["passed"] else 0.0) for r in rows])
    errors = [r for r in rows if r["error"]]
    if errors:
        return Grade(ERROR, score, pass_score, f"{errors[0]['error']}: {errors[0]['reason']}", rows)
    failed = [r for r in rows if not r["passed"]]
    if case.threshold is None:
        status = FAIL if failed else PASS
        reason = "; ".join(r["reason"] for r in failed) if failed else "all assertions pass"
    else:
        status = PASS if score >= case.threshold else FAIL
        sign = "≥" if status == PASS else "<"
        reason = f"aggregate score {score:.2f} {sign} threshold {case.threshold:g}"
    return Grade(status, score, pass_score, reason, rows)
