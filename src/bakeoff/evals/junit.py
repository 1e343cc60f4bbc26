"""JUnit XML for a stored run, the shape CI systems (GitHub Actions reporters, GitLab, Jenkins)
show as test results: one <testsuite> per model, one <testcase> per case x model.

A failing case is a <failure> (its reason as the message, the model's answer as the text); a case
that could not be graded or never ran because the model failed is an <error>.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any


def _case(parent: ET.Element, classname: str, case_id: str, row: dict[str, Any] | None,
          model_error: str | None) -> str:
    """Adds one <testcase>; returns its outcome (pass, fail or error)."""
    seconds = (row or {}).get("timings", {}).get("total_s", 0.0) or 0.0
    tc = ET.SubElement(parent, "testcase", classname=classname, name=case_id, time=f"{seconds:.3f}")
    if row is None:
        ET.SubElement(tc, "error", message=f"not run: {model_error or 'the model did not finish'}",
                      type="NotRun")
        return "error"
    if row["status"] == "pass":
        return "pass"
    kind = "failure" if row["status"] == "fail" else "error"
    el = ET.SubElement(tc, kind, message=row["reason"] or row["status"],
                       type="AssertionFailed" if kind == "failure" else "GradingError")
    el.text = row["output"]
    return "fail" if kind == "failure" else "error"


def render_junit(run: dict[str, Any], rows: list[dict[str, Any]], gate: Any = None) -> str:
    """The run as JUnit XML (rows: the leaderboard, for the model order and each model's status)."""
    root = ET.Element("testsuites", name=f"bakeoff run {run['id']} · suite {run['suite_name']}")
    by_model: dict[str, dict[str, dict[str, Any]]] = {}
    case_order: dict[str, int] = {}
    for r in run["results"]:
        by_model.setdefault(r["model"], {})[r["case_id"]] = r
        case_order.setdefault(r["case_id"], r["position"])
    cases = sorted(case_order, key=lambda c: case_order[c])
    totals = {"tests": 0, "failures": 0, "errors": 0}
    for row in rows:
        model = row["model"]
        suite = ET.SubElement(root, "testsuite", name=f"{run['suite_name']} · {model}")
        props = ET.SubElement(suite, "properties")
        pr = row["pass_rate"]
        for name, value in (("run", run["id"]), ("model", model), ("rank", row.get("rank")),
                            ("pass_rate", f"{pr['value']:.4f} ± {pr['se']:.4f} (n={pr['n']})"),
                            ("threads", run["settings"].get("threads"))):
            ET.SubElement(props, "property", name=name, value=str(value))
        counts = {"pass": 0, "fail": 0, "error": 0}
        for case_id in cases:
            outcome = _case(suite, f"bakeoff.{run['suite_name']}.{model}", case_id,
                            by_model.get(model, {}).get(case_id), row.get("error"))
            counts[outcome] += 1
        suite.set("tests", str(len(cases)))
        suite.set("failures", str(counts["fail"]))
        suite.set("errors", str(counts["error"]))
        for k, v in (("tests", len(cases)), ("failures", counts["fail"]), ("errors", counts["error"])):
            totals[k] += v
    if gate is not None:
        _gate_suite(root, run, gate, totals)
    for k, v in totals.items():
        root.set(k, str(v))
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _gate_suite(root: ET.Element, run: dict[str, Any], gate: Any, totals: dict[str, int]) -> None:
    """The gate's own checks as test cases, so CI shows why the job failed."""
    suite = ET.SubElement(root, "testsuite", name=f"{run['suite_name']} · quality gate")
    for check in gate.checks:
        tc = ET.SubElement(suite, "testcase", classname=f"bakeoff.{run['suite_name']}.gate",
                           name=check.name, time="0")
        if check.failure:
            ET.SubElement(tc, "failure", message=check.failure, type="QualityGate")
    n_fail = len(gate.failures)
    suite.set("tests", str(len(gate.checks)))
    suite.set("failures", str(n_fail))
    suite.set("errors", "0")
    totals["tests"] += len(gate.checks)
    totals["failures"] += n_fail
