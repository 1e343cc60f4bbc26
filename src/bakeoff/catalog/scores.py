"""Expected quality from published scores (data/scores.yaml): sourced, normalised, never imputed.

A task family (chat, math, reasoning, ...) is scored from one source's normalised benchmarks by the
rule scores.yaml states for it, and may name further sources on scales of their own (the chat
arena's ratings beside the leaderboard's 0-100 average). Scores on different scales are never
combined: two models are compared on the first source that scored both, and not at all when none
did. A model without any record, or a family without a rule, has unknown quality, and every surface
shows "unknown" rather than a guess.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import Field, model_validator

from ..errors import CatalogError
from .load import DATA_DIR, Catalog, _parse, _read
from .schema import Id, Strict, Url

SCORES_FILE = "scores.yaml"


class ScoreSource(Strict):
    name: str
    url: Url
    read_from: Url
    date: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}$")
    settings: str
    normalisation: str
    normalisation_url: Url
    benchmarks: dict[str, str]
    scale: str = "0-100"            # what its numbers are on; another scale is never mixed with it


class AlsoRule(Strict):
    """A further source for a family, on its own scale: shown beside the first, never mixed in."""

    source: str
    benchmark: str
    why: str


class FamilyRule(Strict):
    source: str
    benchmarks: list[str] = Field(min_length=1)
    why: str
    also: list[AlsoRule] = []


class ScoreRecord(Strict):
    model: Id
    source: str = "olb2"
    url: Url
    rank: int | None = Field(default=None, gt=0)
    scores: dict[str, float]
    interval: dict[str, tuple[float, float]] = {}    # the source's 95% interval, where it gives one
    note: str | None = None


class ScoresData(Strict):
    sources: dict[str, ScoreSource]
    families: dict[str, FamilyRule]
    scores: list[ScoreRecord]

    @model_validator(mode="after")
    def _refs(self) -> ScoresData:
        for fam, rule in self.families.items():
            src = self.sources.get(rule.source)
            if src is None or not set(rule.benchmarks) <= set(src.benchmarks):
                raise ValueError(f"family {fam}: unknown source or benchmark")
            for alt in rule.also:
                if alt.benchmark not in getattr(self.sources.get(alt.source), "benchmarks", {}):
                    raise ValueError(f"family {fam}: unknown source {alt.source!r} or benchmark {alt.benchmark!r}")
        for rec in self.scores:
            src = self.sources.get(rec.source)
            if src is None or not set(rec.scores) <= set(src.benchmarks):
                raise ValueError(f"scores for {rec.model}: unknown source {rec.source!r} or benchmark")
        return self


@dataclass(frozen=True)
class Quality:
    """Expected quality of one model for one task family from one source, or unknown; `also` holds
    the family's further sources (own scales), each a Quality of its own."""

    task: str
    value: float | None
    source: str | None = None          # e.g. "Open LLM Leaderboard v2 (2025-05-09)"
    url: str | None = None             # the model's evaluation on that source
    method: str = ""                   # how the value was derived
    benchmarks: dict[str, float] = field(default_factory=dict)
    scale: str = "0-100"               # what the value is on: "0-100" or "arena rating"
    interval: tuple[float, float] | None = None    # the source's 95% interval, when it gives one
    also: tuple[Quality, ...] = ()

    @property
    def known(self) -> bool:
        """Some source scored it (the first, or a further one)."""
        return self.value is not None or any(a.known for a in self.also)

    def scored(self) -> list[Quality]:
        return [q for q in (self, *self.also) if q.value is not None]

    def _one(self) -> str:
        if self.scale == "0-100":
            return f"{self.value:.1f}"
        lo, hi = self.interval or (self.value, self.value)
        return f"arena {self.value:.0f} ({lo:.0f}-{hi:.0f})"

    def label(self) -> str:
        return " · ".join(q._one() for q in self.scored()) or "unknown"

    def reason(self) -> str:
        if not self.known:
            return f"expected quality for {self.task}: unknown — {self.method}"
        return "; ".join(q._reason() for q in self.scored())

    def _reason(self) -> str:
        if self.scale == "0-100":
            what = f"{self.value:.1f}/100 (no interval published)"
        else:
            lo, hi = self.interval or (self.value, self.value)
            what = f"{self.value:.0f}, 95% interval {lo:.0f}-{hi:.0f} ({self.scale}, not on the 0-100 scale)"
        return f"expected quality for {self.task}: {what} — {self.source}, {self.method} ({self.url})"

    def to_dict(self) -> dict[str, Any]:
        return {**{k: v for k, v in asdict(self).items() if k != "also"},
                "also": [a.to_dict() for a in self.also]}


def compare(a: Quality, b: Quality) -> int | None:
    """+1 / -1 / 0 on the first source that scored both (a source with intervals: 0 while they
    overlap); None when no source scored both — scores on different scales are never compared."""
    for qa in a.scored():
        qb = next((q for q in b.scored() if q.source == qa.source), None)
        if qb is None:
            continue
        if qa.interval and qb.interval:
            return 1 if qa.interval[0] > qb.interval[1] else -1 if qa.interval[1] < qb.interval[0] else 0
        return (qa.value > qb.value) - (qa.value < qb.value)
    return None


def load_scores(cat: Catalog, data_dir: Path | None = None) -> ScoresData:
    """scores.yaml, checked against the catalog: every record names a catalog model."""
    data = _parse(ScoresData, _read((data_dir or DATA_DIR) / SCORES_FILE), SCORES_FILE)
    seen: set[tuple[str, str]] = set()
    for rec in data.scores:
        if rec.model not in cat.entries:
            raise CatalogError(f"scores for {rec.model!r}, which is not a catalog entry", file=SCORES_FILE)
        if (rec.model, rec.source) in seen:
            raise CatalogError(f"two {rec.source} records for {rec.model!r}", file=SCORES_FILE)
        seen.add((rec.model, rec.source))
    return data


@lru_cache(maxsize=1)
def scores() -> ScoresData:
    from .load import catalog

    return load_scores(catalog())


def _from_source(entry_id: str, task: str, data: ScoresData, source: str, benchmarks: list[str],
                 why: str) -> Quality:
    src = data.sources[source]
    rec = next((r for r in data.scores if r.model == entry_id and r.source == source), None)
    names = ", ".join(src.benchmarks[b] for b in benchmarks)
    if rec is None or not all(b in rec.scores for b in benchmarks):
        return Quality(task, None, method=f"not evaluated on {src.name} ({names})")
    value = sum(rec.scores[b] for b in benchmarks) / len(benchmarks)
    interval = rec.interval.get(benchmarks[0]) if len(benchmarks) == 1 else None
    return Quality(task, round(value, 2), f"{src.name} ({src.date})", rec.url,
                   f"{names}, {_normalised(src)}; {why}",
                   {src.benchmarks[b]: v for b, v in rec.scores.items()}, src.scale, interval)


def _normalised(src: ScoreSource) -> str:
    return (f"normalised 0-100 by the leaderboard ({src.normalisation_url})" if src.scale == "0-100"
            else f"{src.scale} as published ({src.normalisation_url})")


def quality(entry_id: str, task: str, data: ScoresData | None = None) -> Quality:
    """Expected quality of catalog model `entry_id` for `task`, with its source and method; the
    family's further sources ride along in `also`."""
    data = data or scores()
    rule = data.families.get(task)
    if rule is None:
        return Quality(task, None, method=f"no sourced benchmark covers the task {task!r} yet "
                       f"(scored families: {', '.join(sorted(data.families))})")
    first = _from_source(entry_id, task, data, rule.source, rule.benchmarks, rule.why)
    also = tuple(q for alt in rule.also
                 if (q := _from_source(entry_id, task, data, alt.source, [alt.benchmark], alt.why)).known)
    if first.value is None and rule.also and not also:
        tried = "; ".join([first.method, *(f"not evaluated on {data.sources[a.source].name}" for a in rule.also)])
        return replace(first, method=tried)
    return replace(first, also=also)


__all__ = ["Quality", "ScoresData", "compare", "load_scores", "quality", "scores"]
