"""`bakeoff recommend`: the models worth trying for a task, and what each one trades.

For every catalog model tagged with the task that passes the constraints and fits this machine:
expected quality (published, normalised scores from data/scores.yaml; unknown stays unknown),
expected speed here (the calibrated speed model, or a speed run measured here, which overrides it)
and memory at the recommended quantization. The answer is the Pareto front of quality against
speed and memory: a model is left out only when another is at least as good on all three and better
on one. Pass rates measured here on the same suite (or, failing that, benchmark scores measured here
on the same task) override the published order between the models they cover. Models of unknown
quality are listed apart, never ranked by a guess.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import InvalidParamsError
from ..models import fit
from ..models.graph_cost import graph_basis
from ..models.machine import MachineProfile
from ..models.perf import SpeedPrediction, fmt_tps
from ..models.quant_evidence import NO_EVIDENCE, QuantEvidence, pick_quant, unused_note
from ..settings import get_settings
from ..store.bench import BenchScore
from ..store.evals import CasePassRate, SpeedMeasurement
from .evidence import Evidence, SpeedUncertainty
from .load import Catalog
from .openness import COMMERCIAL_OK, scorecard
from .queries import OPEN_LEVELS, check_choice, default_ctx, expected_speed, memory, open_ok, row, shape_of, valid_tasks
from .schema import Entry
from .scores import Quality, ScoresData, compare, quality


class NoCandidatesError(InvalidParamsError):
    """The constraints leave no model; says which one emptied the list."""

    def __init__(self, constraint: str, detail: str, hint: str):
        self.constraint = constraint
        super().__init__(f"no catalog model left after {constraint}: {detail}", param=constraint, hint=hint)


@dataclass
class Constraints:
    license: str | None = None
    commercial: bool = False
    open: str | None = None          # openness level, as `bakeoff catalog --open`
    max_memory: int | None = None    # bytes; default: memory available now
    min_speed: float | None = None   # output tokens/s
    prompt_tokens: int = 100         # the workload planned for: this long a prompt ...
    output_tokens: int = 300         # ... then this many output tokens (memory and speed at that context)

    @property
    def context(self) -> int:
        return self.prompt_tokens + self.output_tokens


@dataclass
class Candidate:
    id: str
    name: str
    released: str | None           # YYYY-MM, None when no source states it
    quantization: str
    memory_bytes: int
    fit: str
    quality: Quality
    predicted: SpeedPrediction
    measured_speed: SpeedMeasurement | None = None
    pass_rates: list[CasePassRate] = field(default_factory=list)
    bench: list[BenchScore] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    local_name: str | None = None
    gguf_repo: str | None = None
    quant_basis: str = ""           # why this quantization: a `bakeoff quants` sweep here, or the rule
    quant_measured: bool = False    # True when a sweep here chose it
    on_front: bool = False
    dominated_by: str | None = None
    trade: str | None = None
    maker_reported: list[Any] = field(default_factory=list)   # the card's own numbers: shown, never ranked

    @property
    def output_tps(self) -> float:
        return self.measured_speed.output_tps if self.measured_speed else self.predicted.output_tps

    @property
    def prompt_tps(self) -> float:
        return self.measured_speed.prompt_tps if self.measured_speed else self.predicted.prompt_tps

    @property
    def speed_basis(self) -> str:
        m = self.measured_speed
        if m is None:
            return "predicted"
        return f"measured here (median of {m.n}, run {m.run_id}, {m.info.get('quantization', '?')})"

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "released": self.released, "quantization": self.quantization,
                "memory_bytes": self.memory_bytes, "fit": self.fit, "quality": self.quality.to_dict(),
                "output_tps": self.output_tps, "prompt_tps": self.prompt_tps,
                "speed_basis": self.speed_basis, "predicted": self.predicted.to_dict(),
                "pass_rates": [{"suite": p.suite, "rate": p.rate, "n_cases": p.n_cases, "n_runs": p.n_runs}
                               for p in self.pass_rates],
                "maker_reported": [p.model_dump() for p in self.maker_reported],
                "on_front": self.on_front, "dominated_by": self.dominated_by, "trade": self.trade,
                "local_name": self.local_name, "gguf_repo": self.gguf_repo, "quant_basis": self.quant_basis,
                "quant_measured": self.quant_measured, "reasons": self.reasons}


@dataclass
class Recommendation:
    task: str
    front: list[Candidate]          # the Pareto front, best quality first
    dominated: list[Candidate]      # fit, known quality, but another model beats them on every axis
    unknown: list[Candidate]        # fit, quality unknown: listed, never ranked
    funnel: list[tuple[str, int]]   # how many models remained after each constraint
    command: str
    notes: list[str] = field(default_factory=list)

    def ordered(self) -> list[Candidate]:
        return [*self.front, *self.dominated, *self.unknown]

    def to_dict(self) -> dict[str, Any]:
        return {"task": self.task, "front": [c.to_dict() for c in self.front],
                "dominated": [c.to_dict() for c in self.dominated],
                "unknown": [c.to_dict() for c in self.unknown],
                "funnel": [{"after": k, "left": n} for k, n in self.funnel], "command": self.command,
                "notes": self.notes}


def _gib(n: float) -> str:
    return f"{n / (1 << 30):.1f} GiB"


def _filter(cat: Catalog, task: str, c: Constraints) -> tuple[list[Entry], list[tuple[str, int]]]:
    pool = [e for e in cat.entries.values() if task in e.tasks]
    funnel = [(f"--task {task}", len(pool))]
    steps = []
    if c.license:
        lic = check_choice(c.license, sorted(cat.licences), "license")
        steps.append((f"--license {lic}", lambda e: e.license == lic))
    if c.commercial:
        steps.append(("--commercial", lambda e: scorecard(cat, e).commercial in COMMERCIAL_OK))
    if c.open:
        level = check_choice(c.open, OPEN_LEVELS, "openness level")
        steps.append((f"--open {level}", lambda e: open_ok(row(cat, e), level)))
    if c.context > get_settings().n_ctx:
        steps.append((f"context {c.context}", lambda e: e.context is None or e.context >= c.context))
    for label, keep in steps:
        before = len(pool)
        pool = [e for e in pool if keep(e)]
        funnel.append((label, len(pool)))
        if not pool:
            raise NoCandidatesError(label, f"none of the {before} models left before it passes",
                                    "relax that option (`bakeoff catalog --task ...` lists the candidates)")
    return pool, funnel


def _candidate(cat: Catalog, entry: Entry, task: str, c: Constraints, available: int,
               profile: MachineProfile, ev: Evidence, data: ScoresData | None,
               speed_error: SpeedUncertainty) -> Candidate | None:
    n_ctx = max(default_ctx(entry), c.context)
    ests = memory(entry, n_ctx=n_ctx, available=available)
    bits = _measured_bits(ev.quants) if ev.quants else {}
    for t, b in bits.items():      # the types a sweep measured here, sized from its files
        ests.setdefault(t, fit.estimate_download(int(entry.n_params * b / 8), shape_of(entry), n_ctx, available))
    picked = pick_quant(ev.quants, ests, lambda q: ests[q].verdict == "fits") if ev.quants else None
    quant = picked.quantization if picked else fit.recommend_quant({q: ests[q] for q in fit.QUANTS})
    if quant is None:
        return None
    est = ests[quant]
    cand = Candidate(entry.id, entry.name, entry.released, quant, est.total_bytes, est.verdict,
                     quality(entry.id, task, data),
                     expected_speed(entry, quant, profile, c.prompt_tokens, c.output_tokens, bits.get(quant)),
                     ev.best_speed(), list(ev.pass_rates), list(ev.bench),
                     local_name=ev.local_names[0] if ev.local_names else None,
                     gguf_repo=entry.gguf_repos[0] if entry.gguf_repos else None,
                     quant_measured=picked is not None, maker_reported=list(entry.benchmarks))
    if picked is not None:
        cand.quant_basis = f"quantization {picked.reason}"
    else:
        rule = f"quantization {quant} by the CPU rule (Q8_0 while its weights stay under 2 GiB, else Q4_K_M)"
        cand.quant_basis = f"{rule}; {unused_note(ev.quants, ests) if ev.quants else NO_EVIDENCE}"
    cand.reasons = _reasons(cat, cand, entry, ev, available,
                            _assumed(profile, quant, c, ests[quant].n_ctx, entry) + "; " + speed_error.describe())
    return cand


def _measured_bits(sweep: QuantEvidence) -> dict[str, float]:
    """Bits per weight of each type a sweep measured, scaled from its file sizes against a type the
    speed and memory models know (Q4_K_M, Q8_0, F16); empty when the sweep has none of those."""
    by_type = sweep.by_type()
    anchor = next((t for t in fit.QUANTS if t in by_type), None)
    if anchor is None or not by_type[anchor].size_bytes:
        return {}
    return {t: fit.BITS_PER_WEIGHT[anchor] * q.size_bytes / by_type[anchor].size_bytes
            for t, q in by_type.items()}


def _assumed(profile: MachineProfile, quant: str, c: Constraints, n_ctx: int, entry: Entry) -> str:
    """The settings a predicted speed assumes, and the graph size it charges for."""
    a = entry.arch
    graph = graph_basis(a.gguf, a.layers or 32, (a.experts_used or 0) if a.type == "moe" else 0)
    return (f"assumes {quant} weights, {profile.identity.get('threads', '?')} threads, {c.prompt_tokens} prompt "
            f"then {c.output_tokens} output tokens, context {n_ctx}, F16 KV cache, one request at a time; {graph}")


def _reasons(cat: Catalog, c: Candidate, entry: Entry, ev: Evidence, available: int, speed_note: str) -> list[str]:
    p = c.predicted
    out = [c.quality.reason(), c.quant_basis]
    for pub in entry.benchmarks[:5]:   # the card's own numbers: settings differ per card, so shown, not ranked
        shots = f", {pub.shots}-shot" if pub.shots is not None else ""
        when = f", {pub.date}" if pub.date else ", undated"
        out.append(f"maker-reported (its card): {pub.name} {pub.score:g}{shots} — not comparable with "
                   f"leaderboard scores or across models, never ranked ({pub.source}{when})")
    for r in ev.pass_rates:
        se = (r.rate * (1 - r.rate) / r.n_cases) ** 0.5
        out.append(f"measured here on {r.model}: suite {r.suite} pass rate {100 * r.rate:.0f}% ± {100 * se:.0f}% "
                   f"(n={r.n_cases} distinct cases, {r.n_runs} run(s))")
    for b in ev.bench:
        err = f" ± {b.stderr:.3f}" if isinstance(b.stderr, (int, float)) else ""
        out.append(f"measured here: benchmark {b.task} {b.metric} {b.value:.3f}{err} (n={b.n})")
    if c.measured_speed:
        out.append(f"speed measured here: {fmt_tps(c.measured_speed.output_tps)} output tok/s, "
                   f"{fmt_tps(c.measured_speed.prompt_tps)} prompt tok/s ({c.speed_basis}; "
                   f"predicted {fmt_tps(p.output_tps)} at {c.quantization})")
    else:
        out.append(f"expected speed here at {c.quantization}: {fmt_tps(p.output_tps)} output tok/s, "
                   f"{fmt_tps(p.prompt_tps)} prompt tok/s, predicted from this machine's calibrated profile "
                   f"({speed_note})")
    out.append(f"{c.fit} at {c.quantization}: about {_gib(c.memory_bytes)} of {_gib(available)}")
    sc = scorecard(cat, entry)
    out.append(f"released {entry.released or 'unknown'}; licence {sc.licence}: commercial use {sc.commercial}; "
               f"openness {len(sc.met)}/5, MOF {sc.mof_label} ({entry.sources.card})")
    return out


def _measured(c: Candidate) -> dict[str, float]:
    """Scores measured here, by what they measured: suite pass rates, then benchmark metrics. Where
    several files of the model ran one suite (a quants sweep stores one rate per quant), the rate
    over the most distinct cases speaks for it (never their pool: the cases would count twice)."""
    rates = sorted(c.pass_rates, key=lambda r: (r.n_cases, r.n_runs, r.model))
    out = {f"suite {r.suite}": r.rate for r in rates}         # the last of each suite stays
    out.update({f"bench {b.task} {b.metric}": b.value for b in c.bench})
    return out


def _measured_cmp(a: Candidate, b: Candidate) -> int | None:
    """+1 / -1 / 0 when both were measured here on a common suite (by pass rate) or, failing that,
    a common benchmark metric; None when nothing measured here compares them."""
    ma, mb = _measured(a), _measured(b)
    for prefix in ("suite ", "bench "):
        common = [k for k in ma if k.startswith(prefix) and k in mb]
        if common:
            diff = sum(ma[k] - mb[k] for k in common)
            return (diff > 0) - (diff < 0)
    return None


def _quality_cmp(a: Candidate, b: Candidate) -> int | None:
    """Measured here first; else the first published source that scored both; None: not comparable."""
    m = _measured_cmp(a, b)
    return m if m is not None else compare(a.quality, b.quality)


def dominates(a: Candidate, b: Candidate) -> bool:
    """a is at least as good as b in quality, speed and memory, and better in one. Models no common
    source compares never dominate each other."""
    q = _quality_cmp(a, b)
    if q is None:
        return False
    s = (a.output_tps > b.output_tps) - (a.output_tps < b.output_tps)
    m = (a.memory_bytes < b.memory_bytes) - (a.memory_bytes > b.memory_bytes)
    return min(q, s, m) >= 0 and max(q, s, m) > 0


def _measured_order(front: list[Candidate]) -> list[Candidate]:
    """Models measured here keep the slots the priors gave them, but among themselves take the
    order the measurements give where they compare (higher pass rate or score first)."""
    slots = [i for i, c in enumerate(front) if c.pass_rates or c.bench]
    measured = [front[i] for i in slots]
    for i in range(len(measured)):          # insertion sort with the measured comparison
        j = i
        while j > 0 and _measured_cmp(measured[j], measured[j - 1]) == 1:
            measured[j - 1], measured[j] = measured[j], measured[j - 1]
            j -= 1
    out = list(front)
    for i, c in zip(slots, measured):
        out[i] = c
    return out


def copeland(cands: list[Candidate]) -> dict[str, int]:
    """Wins minus losses over every pair some source compares (measured here, else the first
    published source that scored both): an order from comparisons alone, never from one number made
    of scores on different scales. With a single source it is that source's order."""
    out = {c.id: 0 for c in cands}
    for i, a in enumerate(cands):
        for b in cands[i + 1:]:
            q = _quality_cmp(a, b) or 0
            out[a.id] += q
            out[b.id] -= q
    return out


def pareto(cands: list[Candidate]) -> tuple[list[Candidate], list[Candidate]]:
    """(front sorted by quality, best first; the dominated, each naming a model that beats it)."""
    front: list[Candidate] = []
    dominated: list[Candidate] = []
    for c in cands:
        beater = next((o for o in cands if o is not c and dominates(o, c)), None)
        c.on_front, c.dominated_by = beater is None, beater.id if beater else None
        (front if beater is None else dominated).append(c)
    wins = copeland(cands)
    key = lambda c: (-wins[c.id], -c.output_tps, c.id)   # noqa: E731
    front = _measured_order(sorted(front, key=key))
    for prev, c in zip(front, front[1:]):
        apart = "" if _quality_cmp(c, prev) is not None else " (no common source compares the two)"
        c.trade = (f"against {prev.id}: quality {c.quality.label()} vs {prev.quality.label()}{apart}, "
                   f"{c.output_tps / prev.output_tps:.1f}x its speed, {_gib(c.memory_bytes)} vs "
                   f"{_gib(prev.memory_bytes)}")
    return front, sorted(dominated, key=key)


def shortlist_command(front: list[Candidate], top: int, suite: str | None) -> tuple[str, list[str]]:
    """One line that pulls what is missing and bakes off the shortlist on the user's suite."""
    names: list[str] = []
    pulls: list[str] = []
    notes: list[str] = []
    for c in front:
        if len(names) == top:
            break
        if c.local_name:
            names.append(c.local_name)
        elif c.gguf_repo:
            pulls.append(f"bakeoff pull {c.gguf_repo}")
            names.append(c.gguf_repo)
        else:
            notes.append(f"{c.id}: no GGUF repository known; convert it with llama.cpp to include it")
    run = f"bakeoff run --models {','.join(names)}" + (f" --suite {suite}" if suite else "")
    return " && ".join([*pulls, run]), notes


def recommend(cat: Catalog, task: str, profile: MachineProfile, constraints: Constraints | None = None,
              evidence: dict[str, Evidence] | None = None, scores_data: ScoresData | None = None,
              top: int = 5, suite: str | None = None, speed_error: SpeedUncertainty | None = None) -> Recommendation:
    """Candidates for `task` on this machine: the quality/speed/memory front, the rest, the command."""
    task = check_choice(task, valid_tasks(cat), "task")
    c = constraints or Constraints()
    pool, funnel = _filter(cat, task, c)
    available = c.max_memory if c.max_memory is not None else fit.available_bytes()
    cands = [x for e in pool
             if (x := _candidate(cat, e, task, c, available, profile, (evidence or {}).get(e.id, Evidence()),
                                 scores_data, speed_error or SpeedUncertainty(None, 0))) is not None]
    funnel.append((f"fits {_gib(available)}", len(cands)))
    if not cands:
        need = min(memory(e, max(default_ctx(e), c.context), available)["Q4_K_M"].total_bytes for e in pool)
        raise NoCandidatesError("memory", f"none of the {len(pool)} models fits in {_gib(available)}; "
                                f"the smallest needs {_gib(need)} at Q4_K_M",
                                "raise --max-memory or free memory")
    if c.min_speed:
        fastest = max(cands, key=lambda x: x.output_tps)
        cands = [x for x in cands if x.output_tps >= c.min_speed]
        funnel.append((f"--min-speed {c.min_speed:g} tok/s", len(cands)))
        if not cands:
            raise NoCandidatesError("--min-speed", f"the fastest model that fits, {fastest.id}, is expected "
                                    f"at {fmt_tps(fastest.output_tps)} output tok/s",
                                    "lower --min-speed, or add a smaller model to the catalog")
    known = [x for x in cands if x.quality.known]
    front, dominated = pareto(known)
    unknown = sorted((x for x in cands if not x.quality.known), key=lambda x: (-x.output_tps, x.id))
    command, notes = shortlist_command(front or unknown, top, suite)
    if not front:
        notes.insert(0, f"no model that fits has a sourced quality score for {task}: the shortlist is "
                        "the fastest of unknown quality — your own cases decide")
    return Recommendation(task, front, dominated, unknown, funnel, command, notes)


def parse_speed(text: str) -> float:
    """'10', '10tok/s', '10 tok/s' -> 10.0 output tokens per second."""
    import re

    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*(tok/s|tokens/s|t/s)?\s*", text or "", re.I)
    if not m or float(m.group(1)) <= 0:
        raise InvalidParamsError(f"invalid min-speed {text!r}", param="min-speed",
                                 hint="give output tokens per second, e.g. 10tok/s")
    return float(m.group(1))


__all__ = ["Candidate", "Constraints", "NoCandidatesError", "Recommendation", "copeland", "dominates",
           "parse_speed", "pareto", "recommend"]
