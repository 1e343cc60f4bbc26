"""Openness scoring from per-component records.

- Five criteria (training data, full weights, evaluation code, fine-tuning code, intermediate
  weights with training metrics): a model is fully open source only when all five are open.
- Model Openness Framework class: see mof.py (each component gated on its own licence).
- An index-style score in the manner of the European Open Source AI Index: open 1, partial 0.5,
  closed 0, summed over the five criteria.
- A tier label summarising the above.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from . import mof
from .load import Catalog
from .schema import Entry, Openness

CRITERIA: list[tuple[str, str]] = [
    ("datasets", "training data"),
    ("weights", "full model weights"),
    ("eval_code", "evaluation code"),
    ("training_code", "fine-tuning code"),
    ("checkpoints", "weights with training metrics"),
]
POINTS = {"open": 1.0, "partial": 0.5, "closed": 0.0, "unknown": 0.0}
ROMAN = mof.ROMAN


def criteria_met(o: Openness) -> list[str]:
    return [key for key, _ in CRITERIA if o.component(key).status == "open"]


def index_score(o: Openness) -> float:
    return sum(POINTS[o.component(key).status] for key, _ in CRITERIA)


def tier(met: int, score: float, weights_open: bool, open_licence: bool) -> str:
    if met == len(CRITERIA) and open_licence:
        return "fully open source"
    if score >= 3.5 and weights_open:
        return "mostly open"
    if weights_open:
        return "open weights" if open_licence else "open weights, restricted licence"
    return "closed"


@dataclass
class Scorecard:
    criteria: list[dict[str, Any]]
    met: list[str]
    fully_open: bool
    index: float                 # 0..5
    mof_class: int | None
    mof_reason: str
    tier: str
    record_from: str             # "entry" or "family <id>"
    licence: str
    open_licence: bool           # the entry's licence and every ancestor's are open
    commercial: str              # the most restrictive along the lineage
    restrictions: list[str] = field(default_factory=list)
    mof: dict[str, Any] = field(default_factory=dict)     # mof.MofResult.to_dict()
    mot: dict[str, Any] | None = None                     # the Model Openness Tool's verdict

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def short_label(self) -> str:
        """The one-cell summary shown in tables: criteria met and MOF class."""
        return f"{len(self.met)}/5, MOF {self.mof_label}"

    @property
    def mof_label(self) -> str:
        return f"Class {ROMAN[self.mof_class]}" if self.mof_class else "none"


# Most restrictive first: an unverified licence promises less than a conditional one.
_COMMERCIAL_ORDER = {"no": 0, "unknown": 1, "conditional": 2, "yes": 3}
COMMERCIAL_OK = ("yes", "conditional")     # what --commercial keeps


def _restrictions(entry: Entry, chain: list[tuple[Entry, Any]]) -> list[str]:
    out: list[str] = []
    for e, lic in chain:
        for r in lic.restrictions:
            text = r if e is entry else f"{r} (inherited from {e.id}: {lic.name})"
            if r not in (x.split(" (inherited")[0] for x in out):
                out.append(text)
    return out


def mof_result(cat: Catalog, entry: Entry) -> mof.MofResult:
    record, _ = cat.openness(entry)
    chain = [(e.id, lic) for e, lic in cat.licence_chain(entry)]
    bases = [(a.id, cat.openness(a)[0]) for a in cat.ancestors(entry)]
    return mof.evaluate(record, cat.licences, chain, bases)


def scorecard(cat: Catalog, entry: Entry) -> Scorecard:
    record, origin = cat.openness(entry)
    chain = cat.licence_chain(entry)
    open_licence = all(lic.mof_open for _, lic in chain)
    commercial = min((lic.commercial for _, lic in chain), key=_COMMERCIAL_ORDER.__getitem__)
    met = criteria_met(record)
    score = index_score(record)
    result = mof_result(cat, entry)
    rows = [{"key": k, "criterion": label, **record.component(k).model_dump()} for k, label in CRITERIA]
    return Scorecard(rows, met, len(met) == len(CRITERIA), score, result.mof_class, result.reason(),
                     tier(len(met), score, record.weights.status == "open", open_licence),
                     origin, cat.licence(entry).id, open_licence, commercial, _restrictions(entry, chain),
                     result.to_dict(), entry.mot.model_dump(mode="json") if entry.mot else None)
