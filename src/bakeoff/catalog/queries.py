"""Catalog queries: rows, filters, sorting and per-quantization memory estimates."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import InvalidParamsError
from ..models import fit
from ..models.fit import BITS_PER_WEIGHT
from ..settings import get_settings
from .load import Catalog, catalog
from .match import by_repo
from .openness import COMMERCIAL_OK, ROMAN, scorecard
from .schema import Entry
from .scores import quality

if TYPE_CHECKING:        # the speed model (numpy) loads only when a speed is asked for: `--help` stays light
    from ..models.machine import MachineProfile
    from ..models.perf import SpeedPrediction, SpeedShape

GENERAL_TASK = "text-generation"   # the task family whose score the catalog lists as general quality


def shape_of(entry: Entry) -> fit.ModelShape:
    a = entry.arch
    return fit.ModelShape(architecture=a.gguf, n_layer=a.layers, n_embd=a.hidden, n_head=a.heads,
                          n_head_kv=a.kv_heads, head_dim=a.head_dim_effective, n_vocab=a.vocab,
                          sliding_window=a.sliding_window)


def speed_shape(entry: Entry, quant: str, bits: float | None = None) -> SpeedShape:
    """`bits`: bits per weight measured from a file of this type (a quants run), else the type's usual."""
    from ..models.perf import shape_for

    a = entry.arch
    return shape_for(entry.n_params, quant, active_params=entry.active_params_b and entry.active_params_b * 1e9,
                     n_layer=a.layers, n_head=a.heads, n_head_kv=a.kv_heads, head_dim=a.head_dim_effective,
                     bits=bits, arch=a.gguf, experts_used=(a.experts_used or 0) if a.type == "moe" else 0,
                     n_vocab=a.vocab)


def expected_speed(entry: Entry, quant: str, profile: MachineProfile, prompt_tokens: int = 100,
                   output_tokens: int = 300, bits: float | None = None) -> SpeedPrediction:
    """Predicted tokens/s for a catalog model at a quantization (nothing downloaded)."""
    from ..models.perf import predict

    return predict(profile, speed_shape(entry, quant, bits), prompt_tokens, output_tokens)


def offer_speed(repo: str, quant: str, size: int | None, profile: MachineProfile) -> tuple[SpeedPrediction, str] | None:
    """Expected tokens/s here for one Hub file not downloaded yet, and what the prediction rests on:
    the catalog's shape when it knows the repo, else the file's bytes read once per token (dense)."""
    if quant not in BITS_PER_WEIGHT:
        return None
    entry = by_repo(catalog(), repo)
    if entry is not None:
        return expected_speed(entry, quant, profile), "catalog shape"
    if size:
        from ..models.perf import predict_for_params

        return predict_for_params(profile, size * 8 / BITS_PER_WEIGHT[quant], quant), "file size, dense assumed"
    return None


def default_ctx(entry: Entry) -> int:
    """The context Bakeoff would load the model with: the setting, capped by the model's own."""
    n = get_settings().n_ctx
    return min(n, entry.context) if entry.context else n


def memory(entry: Entry, n_ctx: int | None = None,
           available: int | None = None) -> dict[str, fit.FitEstimate]:
    n_ctx = n_ctx or default_ctx(entry)
    avail = available if available is not None else fit.available_bytes()
    return {q: fit.estimate_quant(shape_of(entry), entry.n_params, q, n_ctx, avail) for q in fit.QUANTS}


def repo_estimates(repo: str) -> dict[str, fit.FitEstimate] | None:
    """Memory estimates for the catalog model a Hugging Face repo holds, or None if it is unknown."""
    entry = by_repo(catalog(), repo)
    return memory(entry) if entry else None


def repo_shape(repo: str) -> tuple[fit.ModelShape, int] | None:
    """(shape, default context) of the catalog model a Hugging Face repo holds, for fit estimates
    of files not downloaded yet (`bakeoff search`), or None if it is unknown."""
    entry = by_repo(catalog(), repo)
    return (shape_of(entry), default_ctx(entry)) if entry else None


@dataclass(frozen=True)
class RepoFacts:
    """What the catalog knows about the model in a Hugging Face repo, as one table cell shows it."""

    catalog_id: str
    license: str
    openness: str        # Scorecard.short_label
    commercial: str


def repo_facts(repo: str) -> RepoFacts | None:
    cat = catalog()
    entry = by_repo(cat, repo)
    if entry is None:
        return None
    sc = scorecard(cat, entry)
    return RepoFacts(entry.id, sc.licence, sc.short_label, sc.commercial)


def row(cat: Catalog, entry: Entry) -> dict[str, Any]:
    sc = scorecard(cat, entry)
    return {
        "id": entry.id, "name": entry.name, "family": entry.family, "org": cat.org(entry),
        "params_b": entry.params_b, "active_params_b": entry.active_params_b,
        "arch": entry.arch.type, "context": entry.context, "license": sc.licence,
        "commercial": sc.commercial, "criteria": len(sc.met), "index": sc.index,
        "mof": sc.mof_class, "tier": sc.tier, "tasks": list(entry.tasks), "base": entry.base,
        "hf_repo": entry.hf_repo, "source": entry.sources.card, "released": entry.released,
        "checked": entry.checked.isoformat(),
        # General quality: the leaderboard average (data/scores.yaml), None when unknown.
        "quality": quality(entry.id, GENERAL_TASK).value,
    }


SORT_COLUMNS = ["id", "name", "family", "org", "params_b", "context", "license", "commercial", "released", "checked",
                "criteria", "index", "mof", "tier", "quality"]
OPEN_LEVELS = ["0", "1", "2", "3", "4", "5", "mof-iii", "mof-ii", "mof-i"]


def parse_size(text: str, what: str, units: dict[str, float]) -> float:
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([a-zA-Z]*)\s*", text or "")
    unit = (m.group(2).lower() if m else "") or ""
    if not m or unit not in units:
        raise InvalidParamsError(f"invalid {what} {text!r}", param=what,
                                 hint=f"use a number with a unit: {', '.join(u for u in units if u)}")
    return float(m.group(1)) * units[unit]


def check_choice(value: str, valid: list[str], what: str) -> str:
    if value.lower() not in [v.lower() for v in valid]:
        raise InvalidParamsError(f"unknown {what} {value!r}", param=what,
                                 hint=f"valid {what}s: {', '.join(valid)}")
    return value.lower()


def valid_tasks(cat: Catalog) -> list[str]:
    return sorted({t for e in cat.entries.values() for t in e.tasks})


@dataclass
class Filters:
    task: str | None = None
    license: str | None = None
    commercial: bool = False
    open: str | None = None
    max_params: str | None = None
    min_context: str | None = None
    family: str | None = None
    fits: str | None = None


def open_ok(r: dict[str, Any], level: str) -> bool:
    if level.startswith("mof-"):
        need = {v.lower(): k for k, v in ROMAN.items()}[level.removeprefix("mof-")]
        return r["mof"] is not None and r["mof"] <= need   # Class I is the most open
    return r["criteria"] >= int(level)


def _predicates(cat: Catalog, f: Filters) -> list[Any]:
    preds = []
    if f.task:
        task = check_choice(f.task, valid_tasks(cat), "task")
        preds.append(lambda r: task in r["tasks"])
    if f.license:
        lic = check_choice(f.license, sorted(cat.licences), "license")
        preds.append(lambda r: r["license"] == lic)
    if f.commercial:
        preds.append(lambda r: r["commercial"] in COMMERCIAL_OK)
    if f.open:
        level = check_choice(f.open, OPEN_LEVELS, "openness level")
        preds.append(lambda r: open_ok(r, level))
    if f.max_params:
        cap = parse_size(f.max_params, "max-params", {"": 1.0, "b": 1.0, "m": 1e-3, "k": 1e-6})
        preds.append(lambda r: r["params_b"] <= cap)
    if f.min_context:
        need = parse_size(f.min_context, "min-context", {"": 1, "k": 1024})
        preds.append(lambda r: (r["context"] or 0) >= need)
    if f.family:
        fam = check_choice(f.family, sorted(cat.families), "family")
        preds.append(lambda r: r["family"] == fam)
    return preds


def query(cat: Catalog, filters: Filters | None = None, sort: str = "id",
          descending: bool = False) -> list[dict[str, Any]]:
    """Rows matching every filter, sorted by `sort`. Bad values raise with the valid ones listed."""
    filters = filters or Filters()
    preds = _predicates(cat, filters)
    key = check_choice(sort, SORT_COLUMNS, "sort column")
    quant = check_choice(filters.fits, list(fit.QUANTS), "quantization").upper() if filters.fits else None
    rows = []
    for entry in cat.entries.values():
        r = row(cat, entry)
        if not all(p(r) for p in preds):
            continue
        if quant:
            est = memory(entry)[quant]
            r["memory_bytes"], r["fit"] = est.total_bytes, est.verdict
            if est.verdict != "fits":
                continue
        rows.append(r)
    # None sorts last whichever the direction.
    present = [r for r in rows if r[key] is not None]
    missing = [r for r in rows if r[key] is None]
    present.sort(key=lambda r: (r[key], r["id"]), reverse=descending)
    return present + missing
