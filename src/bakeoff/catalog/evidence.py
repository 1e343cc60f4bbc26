"""What this machine has measured, per catalog entry: bakeoff pass rates (once per distinct case),
benchmark scores, speed runs, `bakeoff quants` sweeps, the local files; and how far the speed model
was off on each run."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from ..errors import BakeoffError
from ..models.gguf_info import read_gguf_info
from ..models.machine import MachineProfile
from ..models.perf import predict, relative_error, shape_from_gguf
from ..models.quant_evidence import QuantEvidence
from ..models.registry import Registry
from ..store.bench import BenchScore, latest_scores
from ..store.evals import CasePassRate, SpeedMeasurement, case_pass_rates, speed_measurements
from ..store.quants import quant_reports
from .load import Catalog
from .match import by_repo, match_metadata, norm


@dataclass
class Evidence:
    """Everything measured here for one catalog entry."""

    pass_rates: list[CasePassRate] = field(default_factory=list)
    bench: list[BenchScore] = field(default_factory=list)
    speeds: list[SpeedMeasurement] = field(default_factory=list)
    local_names: list[str] = field(default_factory=list)
    quants: QuantEvidence | None = None      # the latest `bakeoff quants` sweep of this model

    def best_speed(self) -> SpeedMeasurement | None:
        """The latest chat-sized (`short`) speed measurement."""
        short = [s for s in self.speeds if s.workload == "short"]
        return max(short, key=lambda s: s.run_id) if short else None


def local_models(cat: Catalog) -> dict[str, list[str]]:
    """Catalog id -> names of local model files that are that entry (by their GGUF metadata)."""
    out: dict[str, list[str]] = {}
    for ref in Registry().list():
        if not ref.path:
            continue
        try:
            m = match_metadata(cat, read_gguf_info(ref.path).metadata)
        except BakeoffError:
            continue
        if m is not None and not m.descendant:
            out.setdefault(m.entry.id, []).append(ref.aliases[0] if ref.aliases else ref.name)
    return out


def gather(cat: Catalog, db: sqlite3.Connection,
           entry_of: Callable[[str], str | None]) -> dict[str, Evidence]:
    """Measured evidence keyed by catalog id (store rows whose model maps to no entry are skipped)."""
    ids: dict[str, str | None] = {}

    def eid(name: str) -> str | None:
        if name not in ids:
            ids[name] = entry_of(name)
        return ids[name]

    out: dict[str, Evidence] = {}
    for key, rows in (("pass_rates", case_pass_rates(db)), ("bench", latest_scores(db)),
                      ("speeds", speed_measurements(db))):
        for r in rows:
            if (e := eid(r.model)) is not None:
                getattr(out.setdefault(e, Evidence()), key).append(r)
    for e, names in local_models(cat).items():
        out.setdefault(e, Evidence()).local_names.extend(names)
    for sweep in quant_reports(db):                     # newest first: the first one per entry stays
        if (e := quant_entry(cat, sweep)) is not None and out.setdefault(e, Evidence()).quants is None:
            out[e].quants = sweep
    return out


def quant_entry(cat: Catalog, sweep: QuantEvidence) -> str | None:
    """The catalog entry a sweep's reference file is (not one it descends from: a fine-tune's
    quantization behaves as its own model)."""
    m = match_metadata(cat, sweep.identity)
    return m.entry.id if m is not None and not m.descendant else None


def _repo_key(repo: str) -> str:
    """'bartowski/SmolLM2-135M-Instruct-GGUF' -> 'smollm2135minstruct'."""
    name = norm(repo.rsplit("/", 1)[-1])
    return name[:-4] if name.endswith("gguf") else name


def repo_quants(cat: Catalog, db: sqlite3.Connection, repo: str) -> QuantEvidence | None:
    """The latest sweep of the model a Hugging Face repo holds: the same catalog entry, or, for a
    model the catalog does not know, a reference whose GGUF names that repo or that model."""
    entry = by_repo(cat, repo)
    key = _repo_key(repo)
    for sweep in quant_reports(db):
        if entry is not None:
            if quant_entry(cat, sweep) == entry.id:
                return sweep
            continue
        meta = sweep.identity
        names = [meta.get("general.source.huggingface.repository"), meta.get("general.name")]
        if any(isinstance(n, str) and n and _repo_key(n) == key for n in names):
            return sweep
    return None


@dataclass(frozen=True)
class SpeedCheck:
    """One stored speed measurement beside what the speed model predicts for it."""

    model: str
    source: str                 # "run 4", "ask #12"
    workload: str
    metric: str                 # prompt_tps for the prefill-bound `long` workload, else output_tps
    measured: float
    predicted: float
    n: int
    load_avg_1m: float | None

    @property
    def error(self) -> float:
        return relative_error(self.predicted, self.measured)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "error": self.error}


def check_speed(profile: MachineProfile, measurements: list[SpeedMeasurement]) -> list[SpeedCheck]:
    """Predict every stored measurement of a local model whose file is still here."""
    reg, out = Registry(), []
    for m in measurements:
        try:
            ref = reg.resolve(m.model)
            shape = shape_from_gguf(read_gguf_info(ref.path)) if ref.path else None
        except BakeoffError:
            shape = None
        if shape is None:
            continue
        pred = predict(profile, shape, int(m.prompt_tokens), max(int(m.completion_tokens), 1))
        metric = "prompt_tps" if m.workload == "long" else "output_tps"
        out.append(SpeedCheck(m.model, m.source, m.workload, metric, getattr(m, metric),
                              getattr(pred, metric), m.n, m.load_avg_1m))
    return out


@dataclass(frozen=True)
class SpeedUncertainty:
    """How far off the speed model has been here: the median |relative error| over n checks."""

    median_error: float | None      # None: not yet checked against any measurement here
    n: int

    def describe(self) -> str:
        if self.median_error is None:
            return ("uncertainty not yet known here: no measurement checks the speed model yet "
                    "(`bakeoff run` measures one; benchmarks/predict_speed.py aims within 30%)")
        return (f"± {100 * self.median_error:.0f}%, the speed model's median error against "
                f"{self.n} measurement(s) here")


def speed_uncertainty(checks: list[SpeedCheck]) -> SpeedUncertainty:
    errs = sorted(abs(c.error) for c in checks)
    return SpeedUncertainty(errs[len(errs) // 2] if errs else None, len(errs))


def run_check_lines(db: sqlite3.Connection, run_id: int) -> list[str]:
    """One line per speed workload a run measured: the speed model's prediction beside it (from the
    cached machine profile; nothing is calibrated here)."""
    from ..models.machine import load_profile
    from ..models.perf import fmt_tps
    from ..store.evals import speed_measurements

    mine = [m for m in speed_measurements(db) if m.source == f"run {run_id}"]
    profile = load_profile() if mine else None
    if profile is None:
        return ["speed model: no calibrated profile here yet (`bakeoff recommend` makes one)"] if mine else []
    return [f"speed model: {c.model} {c.workload} workload {c.metric.replace('_tps', '')} tok/s predicted "
            f"{fmt_tps(c.predicted)} vs measured {fmt_tps(c.measured)} (median of {c.n}), "
            f"{100 * c.error:+.0f}%" for c in check_speed(profile, mine)]


def error_summary(checks: list[SpeedCheck]) -> str:
    """One line: how far off the speed model was against the store's measurements."""
    if not checks:
        return "speed model not yet checked here: no speed run in the store (`bakeoff run` measures one)"
    errs = sorted(abs(c.error) for c in checks)
    worst = max(checks, key=lambda c: abs(c.error))
    return (f"speed model checked against {len(checks)} measurement(s) here: median error "
            f"{100 * errs[len(errs) // 2]:.0f}%, worst {100 * worst.error:+.0f}% ({worst.model} "
            f"{worst.metric}, {worst.source})")


__all__ = ["Evidence", "SpeedCheck", "SpeedUncertainty", "check_speed", "error_summary", "gather", "local_models",
           "quant_entry", "repo_quants", "run_check_lines", "speed_uncertainty"]
