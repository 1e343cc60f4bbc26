"""Openness scoring from per-component records.

- Five criteria (training data, full weights, evaluation code, fine-tuning code, weights with
  training metrics): a model is fully open source only when all five are open.
- Model Openness Framework class (LF AI & Data, arXiv 2403.13784): classes build up III -> II -> I,
  and a component counts only under an open licence, so a model whose licence (or any ancestor's)
  is not OSI-approved gets no class at all.
- An index-style score in the manner of the European Open Source AI Index: open 1, partial 0.5,
  closed 0, summed over the five criteria.
- A tier label summarising the above.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from .load import Catalog
from .schema import Entry, Openness

CRITERIA: list[tuple[str, str]] = [
    ("datasets", "training data"),
    ("weights", "full model weights"),
    ("eval_code", "evaluation code"),
    ("training_code", "fine-tuning code"),
    ("checkpoints", "weights with training metrics"),
]
POINTS = {"open": 1.0, "partial": 0.5, "closed": 0.0}

# MOF components required per class, each class adding to the one below (MOF paper, Table 2),
# expressed in this catalog's components.
MOF_REQUIRES: list[tuple[int, tuple[str, ...]]] = [
    (3, ("weights", "model_card", "data_card", "tech_report")),
    (2, ("training_code", "eval_code")),
    (1, ("datasets", "checkpoints", "paper")),
]
ROMAN = {1: "I", 2: "II", 3: "III"}
MOF_NAMES = {1: "Class I Open Science", 2: "Class II Open Tooling", 3: "Class III Open Model"}


def criteria_met(o: Openness) -> list[str]:
    return [key for key, _ in CRITERIA if getattr(o, key).status == "open"]


def index_score(o: Openness) -> float:
    return sum(POINTS[getattr(o, key).status] for key, _ in CRITERIA)


def mof_class(o: Openness, open_licence: bool) -> tuple[int | None, str]:
    """(class, reason): the highest class whose components (and all lower classes') are open."""
    if not open_licence:
        return None, "licence is not an open (OSI-approved) licence, so no component counts"
    achieved: int | None = None
    for cls, comps in MOF_REQUIRES:
        missing = [c for c in comps if getattr(o, c).status != "open"]
        if missing:
            need = f"Class {ROMAN[cls]} needs {', '.join(missing)}"
            return achieved, (f"{MOF_NAMES[achieved]}; " if achieved else "") + need
        achieved = cls
    return achieved, MOF_NAMES[1]


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
    open_licence: bool
    commercial: str              # the most restrictive along the lineage
    restrictions: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def mof_label(self) -> str:
        return f"Class {ROMAN[self.mof_class]}" if self.mof_class else "none"


_COMMERCIAL_ORDER = {"no": 0, "conditional": 1, "yes": 2}


def scorecard(cat: Catalog, entry: Entry) -> Scorecard:
    record, origin = cat.openness(entry)
    chain = cat.licence_chain(entry)
    open_licence = all(lic.osi_approved for _, lic in chain)
    commercial = min((lic.commercial for _, lic in chain), key=_COMMERCIAL_ORDER.__getitem__)
    restrictions = []
    for e, lic in chain:
        for r in lic.restrictions:
            text = r if e is entry else f"{r} (inherited from {e.id}: {lic.name})"
            if r not in (x.split(" (inherited")[0] for x in restrictions):
                restrictions.append(text)
    met = criteria_met(record)
    score = index_score(record)
    cls, reason = mof_class(record, open_licence)
    rows = [{"key": k, "criterion": label, **getattr(record, k).model_dump()} for k, label in CRITERIA]
    return Scorecard(rows, met, len(met) == len(CRITERIA), score, cls, reason,
                     tier(len(met), score, record.weights.status == "open", open_licence),
                     origin, entry.license, open_licence, commercial, restrictions)
