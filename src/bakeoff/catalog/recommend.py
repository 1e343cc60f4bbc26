"""`bakeoff recommend`: rank catalog candidates for a task with reasons.

Signals, strongest first: results measured on this machine (bakeoff pass rates and benchmark
scores in the store), whether it fits this machine and at which
quantization, size (a bigger model that still fits is usually better), published benchmark scores,
and openness. Every reason shown says where it comes from.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from ..estimates import Style, show_stat
from ..models import fit
from ..store.bench import latest_scores
from ..store.evals import pass_counts
from .load import Catalog
from .openness import scorecard
from .queries import check_choice, memory, valid_tasks
from .schema import Entry

_SCORE = Style(digits=3, with_n=True)   # a measured score in a reason: 0.600 ± 0.070 (n=50)


def stored_results(db: sqlite3.Connection) -> list[dict[str, Any]]:
    """Scores measured here, one row per (model, source, metric): the latest benchmark run per
    model and task, and each model's pass rate over every bakeoff result in the store."""
    rows: list[dict[str, Any]] = []
    for run in latest_scores(db):
        for metric, s in (run["scores"] or {}).items():
            if isinstance(s, dict) and isinstance(s.get("value"), (int, float)):
                rows.append({"model": run["model"], "source": f"benchmark {run['task']}", "metric": metric,
                             "value": float(s["value"]), "stderr": s.get("stderr"), "n": s.get("n", run["n"])})
    for model, n, passed in pass_counts(db):
        p = passed / n
        rows.append({"model": model, "source": "bakeoff", "metric": "pass rate", "value": p,
                     "stderr": math.sqrt(p * (1 - p) / n), "n": n})
    return rows


@dataclass
class Recommendation:
    id: str
    name: str
    score: float
    quantization: str | None
    memory_bytes: int | None
    reasons: list[str] = field(default_factory=list)
    measured: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _gib(n: float) -> str:
    return f"{n / (1 << 30):.1f} GiB"


def _fit_reason(entry: Entry, available: int) -> tuple[str | None, int | None, str]:
    ests = memory(entry, available=available)
    quant = fit.recommend_quant(ests)
    if quant is None:
        return None, None, f"does not fit: needs {_gib(ests['Q4_K_M'].total_bytes)} at Q4_K_M"
    est = ests[quant]
    return quant, est.total_bytes, (f"{est.verdict} at {quant}: about {_gib(est.total_bytes)} of "
                                    f"{_gib(available)} available, context {est.n_ctx}")


def _score(cat: Catalog, entry: Entry, task: str,
           measured: list[dict[str, Any]]) -> tuple[float, list[str]]:
    sc = scorecard(cat, entry)
    reasons = [f"task {task!r} listed for it ({entry.sources.card})",
               f"licence {entry.license}: commercial use {sc.commercial}"
               + (f", {len(sc.restrictions)} restriction(s)" if sc.restrictions else ""),
               f"openness {len(sc.met)}/5 criteria, index {sc.index:g}/5, MOF {sc.mof_label}"]
    # Size prior: log of active parameters (what runs per token), in units of 10x.
    score = math.log10(max((entry.active_params_b or entry.params_b) * 1e3, 1.0))
    score += 0.1 * sc.index
    for b in entry.benchmarks[:3]:
        reasons.append(f"published {b.name} {b.score:g}" + (f" ({b.shots}-shot)" if b.shots is not None else "")
                       + f" ({b.source})")
    if measured:
        mean = sum(m["value"] for m in measured) / len(measured)
        score += 5.0 * mean   # measured here outweighs everything else
        for m in measured:
            reasons.insert(0, f"measured here: {m['source']} {m['metric']} {show_stat(m, _SCORE)}")
    return score, reasons


def recommend(cat: Catalog, task: str, license: str | None = None, max_memory: int | None = None,
              commercial: bool = False, results: list[dict[str, Any]] | None = None,
              entry_of: Callable[[str], str | None] | None = None, top: int = 5) -> list[Recommendation]:
    """Candidates for `task` that fit `max_memory` (default: available memory), best first."""
    task = check_choice(task, valid_tasks(cat), "task")
    if license:
        license = check_choice(license, sorted(cat.licences), "license")
    available = max_memory if max_memory is not None else fit.available_bytes()
    by_entry: dict[str, list[dict[str, Any]]] = {}
    for r in results or []:
        eid = entry_of(r["model"]) if entry_of else None
        if eid:
            by_entry.setdefault(eid, []).append(r)
    out = []
    for entry in cat.entries.values():
        if task not in entry.tasks or (license and entry.license != license):
            continue
        if commercial and scorecard(cat, entry).commercial == "no":
            continue
        quant, mem, fit_reason = _fit_reason(entry, available)
        if quant is None:
            continue
        score, reasons = _score(cat, entry, task, by_entry.get(entry.id, []))
        if fit_reason.startswith("tight"):
            score -= 0.5   # leaves little memory for anything else: prefer what fits comfortably
        reasons.insert(0, fit_reason)
        out.append(Recommendation(entry.id, entry.name, round(score, 3), quant, mem, reasons,
                                  by_entry.get(entry.id, [])))
    out.sort(key=lambda r: (-r.score, r.id))
    return out[:top]


__all__ = ["Recommendation", "recommend", "stored_results"]
