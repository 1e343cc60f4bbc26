"""Expected quality from published scores (data/scores.yaml): sourced, normalised, never imputed.

A task family (chat, math, reasoning, ...) is scored from one source's normalised benchmarks by the
rule scores.yaml states for it; a model without a record for that source, or a family without a
rule, has unknown quality, and every surface shows "unknown" rather than a guess.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
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


class FamilyRule(Strict):
    source: str
    benchmarks: list[str] = Field(min_length=1)
    why: str


class ScoreRecord(Strict):
    model: Id
    source: str = "olb2"
    url: Url
    rank: int | None = Field(default=None, gt=0)
    scores: dict[str, float]
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
        for rec in self.scores:
            src = self.sources.get(rec.source)
            if src is None or not set(rec.scores) <= set(src.benchmarks):
                raise ValueError(f"scores for {rec.model}: unknown source {rec.source!r} or benchmark")
        return self


@dataclass(frozen=True)
class Quality:
    """Expected quality of one model for one task family, 0-100 (higher is better), or unknown."""

    task: str
    value: float | None
    source: str | None = None          # e.g. "Open LLM Leaderboard v2 (2025-05-09)"
    url: str | None = None             # the model's evaluation on that source
    method: str = ""                   # how the value was derived
    benchmarks: dict[str, float] = field(default_factory=dict)

    @property
    def known(self) -> bool:
        return self.value is not None

    def label(self) -> str:
        return f"{self.value:.1f}" if self.value is not None else "unknown"

    def reason(self) -> str:
        if self.value is None:
            return f"expected quality for {self.task}: unknown — {self.method}"
        return (f"expected quality for {self.task}: {self.value:.1f}/100 — {self.source}, {self.method} "
                f"({self.url})")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


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


def quality(entry_id: str, task: str, data: ScoresData | None = None) -> Quality:
    """Expected quality of catalog model `entry_id` for `task`, with its source and method."""
    data = data or scores()
    rule = data.families.get(task)
    if rule is None:
        return Quality(task, None, method=f"no sourced benchmark covers the task {task!r} yet "
                       f"(scored families: {', '.join(sorted(data.families))})")
    src = data.sources[rule.source]
    rec = next((r for r in data.scores if r.model == entry_id and r.source == rule.source), None)
    names = ", ".join(src.benchmarks[b] for b in rule.benchmarks)
    if rec is None or not all(b in rec.scores for b in rule.benchmarks):
        return Quality(task, None, method=f"not evaluated on {src.name} ({names})")
    value = sum(rec.scores[b] for b in rule.benchmarks) / len(rule.benchmarks)
    return Quality(task, round(value, 2), f"{src.name} ({src.date})", rec.url,
                   f"{names}, normalised 0-100 by the leaderboard ({src.normalisation_url}); {rule.why}",
                   {src.benchmarks[b]: v for b, v in rec.scores.items()})


__all__ = ["Quality", "ScoresData", "load_scores", "quality", "scores"]
