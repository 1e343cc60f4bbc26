"""Paired comparisons of stored contestants: every pair within a run (the leaderboard's ranks and
the report's matrix), and the same models across two runs (`bakeoff diff`, the CI baseline gate).

A comparison uses only the cases both contestants answered, matched by case id; an error counts
as a failure with score 0, as it does in the pass rate.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from itertools import combinations
from typing import Any

from ..errors import IncomparableRunsError, NotFoundError
from ..estimates import Estimate, show
from .stats import SCORE_DIFF, PairedComparison, arena_ranks, compare, format_p, more_cases_text, verdict, with_holm

Outcomes = dict[str, tuple[bool, float]]   # case id -> (passed, score), in suite order


def outcomes(run: dict[str, Any], model: str) -> Outcomes:
    rows = sorted((r for r in run["results"] if r["model"] == model), key=lambda r: r["position"])
    return {r["case_id"]: (r["status"] == "pass", float(r["score"])) for r in rows}


def paired(a: str, a_out: Outcomes, b: str, b_out: Outcomes) -> PairedComparison:
    common = [c for c in a_out if c in b_out]
    return compare(a, b, [a_out[c] for c in common], [b_out[c] for c in common])


def run_pairs(run: dict[str, Any], models: list[str]) -> list[PairedComparison]:
    """Every two models of one run that share cases (in the given order), Holm-adjusted together."""
    outs = {m: outcomes(run, m) for m in models}
    pairs = [paired(a, outs[a], b, outs[b]) for a, b in combinations(models, 2)]
    return with_holm([p for p in pairs if p.n > 0])


def ranks(models: list[str], pairs: list[PairedComparison]) -> dict[str, int]:
    return arena_ranks(models, pairs)


@dataclass(frozen=True)
class PairCell:
    """The row model against the column model, from the row's side, as text: `text` "wins–losses,
    p" (cases only the row passed – only the column passed, Holm-adjusted exact McNemar), `interval`
    the row's mean score minus the column's with its 95% paired bootstrap interval, `ties` the
    concordant cases, `state` better | worse | tie, `title` the verdict in words."""

    text: str
    interval: str
    ties: str
    state: str
    title: str


@dataclass(frozen=True)
class PairRow:
    model: str
    rank: int | None
    cells: list[PairCell | None]      # one per column model; None on the diagonal or without pairs


def pair_cell(p: PairedComparison, row: str) -> PairCell:
    flip = p.a != row
    wins, losses = (p.b_only, p.a_only) if flip else (p.a_only, p.b_only)
    sign = 1 if flip else -1           # score_diff is b - a
    low, high = sorted((sign * p.ci_low, sign * p.ci_high))
    diff = show(Estimate(sign * p.score_diff, p.n, low=low, high=high), SCORE_DIFF)
    state = "tie" if p.better is None else ("better" if p.better == row else "worse")
    return PairCell(f"{wins}–{losses}, {format_p(p.p_adjusted)}", f"score Δ {diff}",
                    f"{p.both_pass} both passed, {p.both_fail} both failed", state, verdict(p))


def pair_matrix(models: list[str], pairs: list[PairedComparison],
                ranks: dict[str, int] | None = None) -> list[PairRow]:
    """Row model x column model (the HTML report's and the web UI's matrix, formatted once here)."""
    by_key = {(p.a, p.b): p for p in pairs}
    out = []
    for m in models:
        cells: list[PairCell | None] = []
        for other in models:
            p = by_key.get((m, other)) or by_key.get((other, m))
            cells.append(pair_cell(p, m) if p is not None and m != other else None)
        out.append(PairRow(m, (ranks or {}).get(m), cells))
    return out


def ranking_note(pairs: list[PairedComparison]) -> str | None:
    """One sentence on what the order of the leaderboard means, for the CLI and the report."""
    if not pairs:
        return None
    found = [p for p in pairs if p.better is not None]
    if not found:
        worst = min(pairs, key=lambda p: p.p_adjusted)
        more = f"; {more_cases_text(worst)}" if worst.more_cases else ""
        return ("ranking: no two models differ significantly on these cases "
                f"(closest: {worst.a} vs {worst.b}, {worst.a_only} vs {worst.b_only} discordant, "
                f"exact McNemar {format_p(worst.p_adjusted)}), so the order above is not yet a "
                f"finding{more}")
    return "ranking: rank = 1 + the number of models significantly better (exact McNemar, Holm-" \
           f"adjusted, α = 0.05); {len(found)} of {len(pairs)} pairs differ significantly"


def pick(run: dict[str, Any], model: str | None) -> list[str]:
    """The run's models, or the one named (by its name in the run or any alias the registry knows)."""
    names = [m["model"] for m in run["model_rows"]]
    if model is None or model in names:
        return names if model is None else [model]
    from ..errors import BakeoffError
    from ..models.registry import Registry

    try:
        resolved = Registry().resolve(model).name
    except BakeoffError:
        resolved = None
    if resolved is not None and resolved in names:
        return [resolved]
    raise NotFoundError(f"model in run {run['id']}", model,
                        suggestions=difflib.get_close_matches(model, names, n=3, cutoff=0.5),
                        valid=names)


def model_pairs(a: dict[str, Any], b: dict[str, Any], model_a: str | None = None,
                model_b: str | None = None) -> list[tuple[str, str]]:
    """Models to compare across runs: by name, or the one model each side has (or was given)."""
    ma, mb = pick(a, model_a), pick(b, model_b)
    pairs = [(m, m) for m in ma if m in mb] or ([(ma[0], mb[0])] if len(ma) == len(mb) == 1 else [])
    if not pairs:
        raise IncomparableRunsError(
            f"runs {a['id']} and {b['id']} share no model to compare",
            "diff compares models of the same name, or two runs of one model each; name the "
            "models with RUN:MODEL, e.g. `bakeoff diff 3:smollm2 3:gemma3`")
    return pairs


def check_same_suite(a: dict[str, Any], b: dict[str, Any]) -> str | None:
    """Raise when two runs used different suites; a note when the same suite changed version."""
    if a["suite_name"] != b["suite_name"]:
        raise IncomparableRunsError(
            f"run {a['id']} used suite {a['suite_name']!r} and run {b['id']} used "
            f"{b['suite_name']!r}: a paired comparison needs the same cases",
            "compare runs of the same suite (`bakeoff runs` lists each run's suite)")
    if a["suite_sha256"] != b["suite_sha256"]:
        return (f"note: runs {a['id']} and {b['id']} used different versions of suite "
                f"{a['suite_name']!r}; cases are matched by id, and a case whose prompt or "
                "assertions changed is compared as if it had not")
    return None


def cross_run(a: dict[str, Any], b: dict[str, Any], model_a: str | None = None,
              model_b: str | None = None, sides: tuple[str, str] | None = None) -> list[PairedComparison]:
    """The same models in two runs, Holm-adjusted across the models compared. `sides` names the two
    runs in labels (default "run N"): a model compared with itself is labelled by its side alone."""
    side_a, side_b = sides or (f"run {a['id']}", f"run {b['id']}")
    same_run = a["id"] == b["id"] and sides is None
    matched = model_pairs(a, b, model_a, model_b)
    pairs = []
    for ma, mb in matched:
        if same_run:
            la, lb = ma, mb
        elif ma == mb and len(matched) == 1:
            la, lb = side_a, side_b
        else:
            la, lb = f"{ma} ({side_a})", f"{mb} ({side_b})"
        pair = paired(la, outcomes(a, ma), lb, outcomes(b, mb))
        if pair.n == 0:
            raise IncomparableRunsError(
                f"{ma} in run {a['id']} and {mb} in run {b['id']} have no case in common",
                "compare runs of the same suite whose models finished at least one case")
        pairs.append(pair)
    return with_holm(pairs)
