"""The Model Openness Framework v1.0 class, computed component by component.

The framework (LF AI & Data, arXiv 2403.13784; reference implementation: the Model Openness Tool,
github.com/lfai/model_openness_tool, ModelEvaluator.php) requires, building up:

- Class III Open Model: model architecture, final parameters, model card, data card, technical
  report, evaluation results;
- Class II Open Tooling: + training, inference and evaluation code, evaluation data;
- Class I Open Science: + datasets, data preprocessing code, intermediate parameters, research paper.

A component counts only when it is published under an open licence of its own (OSI-approved, or an
open-data licence such as CC-BY, CDLA or ODC): a card or paper with no licence stated does not
count, nor one under arXiv's non-exclusive licence. A research paper stands in for the technical
report. The final parameters carry the entry's licence and every ancestor's, since a derivative is
bound by its base's terms; and a derivative's datasets, data card and preprocessing code count only
when its base's do too, since the base's training data is part of what made it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from .schema import MOF_COMPONENTS, Licence, MofComponent, Openness

# Components that describe what the model learned from: a derivative also learned from its base's.
LINEAGE = ("datasets", "data_card", "preprocessing_code")

ROMAN = {1: "I", 2: "II", 3: "III"}
NAMES = {1: "Class I Open Science", 2: "Class II Open Tooling", 3: "Class III Open Model"}


@dataclass
class ComponentVerdict:
    key: str
    name: str
    kind: str
    mof_class: int
    required: bool
    status: str
    license: str | None
    counted: bool
    why: str
    evidence: str | None = None
    note: str | None = None


@dataclass
class MofResult:
    mof_class: int | None
    components: list[ComponentVerdict]
    next_class: int | None                   # the class above, when there is one
    blockers: list[ComponentVerdict] = field(default_factory=list)   # what holds it back from next_class

    @property
    def label(self) -> str:
        return f"Class {ROMAN[self.mof_class]}" if self.mof_class else "none"

    def reason(self) -> str:
        have = f"{NAMES[self.mof_class]}; " if self.mof_class else "no class; "
        if self.next_class is None:
            return NAMES[1]
        held = "; ".join(f"{b.name}: {b.why}" for b in self.blockers)
        return f"{have}Class {ROMAN[self.next_class]} needs {held}"

    def to_dict(self) -> dict[str, Any]:
        return {"mof_class": self.mof_class, "label": self.label, "reason": self.reason(),
                "next_class": self.next_class, "blockers": [b.key for b in self.blockers],
                "components": [asdict(c) for c in self.components]}


def _judge(c: MofComponent, record: Openness, licences: dict[str, Licence],
           weights_chain: list[tuple[str, Licence]]) -> ComponentVerdict:
    comp = record.component(c.key)
    lic_id = weights_chain[0][1].id if c.key == "weights" and weights_chain else comp.license
    counted, why = False, ""
    if comp.status == "closed":
        why = "not published"
    elif comp.status == "unknown":
        why = "not verified against a source" + (f" ({comp.note})" if comp.note else "")
    elif comp.status == "partial":
        why = "only partly published" + (f" ({comp.note})" if comp.note else "")
    elif c.key == "weights":
        closed = [(eid, lic) for eid, lic in weights_chain if not lic.mof_open]
        counted = not closed
        why = "open licence" if counted else "; ".join(
            f"{lic.name}" + (f" (inherited from {eid})" if i or eid != weights_chain[0][0] else "")
            + " is not an open licence" for i, (eid, lic) in enumerate(closed))
    elif lic_id is None:
        why = "no licence on record (none stated, or none we could verify)"
    elif not licences[lic_id].mof_open:
        why = f"{licences[lic_id].name} is not an open licence"
    else:
        counted, why = True, "open licence"
    return ComponentVerdict(c.key, c.name, c.kind, c.mof_class, c.required, comp.status, lic_id,
                            counted, why, comp.evidence, comp.note)


def _check_lineage(v: ComponentVerdict, licences: dict[str, Licence],
                   ancestors: list[tuple[str, Openness]]) -> None:
    comp = next(c for c in MOF_COMPONENTS if c.key == v.key)
    for eid, rec in ancestors:
        base = _judge(comp, rec, licences, [])
        if not base.counted:
            v.counted, v.why = False, f"the base model {eid}'s {comp.name.lower()}: {base.why}"
            return


def evaluate(record: Openness, licences: dict[str, Licence], weights_chain: list[tuple[str, Licence]],
             ancestors: list[tuple[str, Openness]] | None = None) -> MofResult:
    """The class the components earn. weights_chain: (entry id, licence) for the entry, then its
    ancestors, nearest first; ancestors: (entry id, openness record) of each base, nearest first."""
    ancestors = ancestors or []
    verdicts = [_judge(c, record, licences, weights_chain) for c in MOF_COMPONENTS]
    for v in verdicts:
        if v.key in LINEAGE and v.counted:
            _check_lineage(v, licences, ancestors)
    by_key = {v.key: v for v in verdicts}
    paper = by_key["paper"]
    report = by_key["tech_report"]
    if not report.counted and paper.counted:
        # MOF v1.0: the technical report may be omitted when a research paper is provided.
        report.why = "research paper stands in for it"
    elif not report.counted and paper.status != "closed":
        report.why += f"; the research paper could stand in, but: {paper.why}"
    satisfied = {v.key for v in verdicts if v.counted} | ({"tech_report"} if paper.counted else set())
    achieved: int | None = None
    for cls in (3, 2, 1):
        missing = [v for v in verdicts if v.mof_class == cls and v.required and v.key not in satisfied]
        if missing:
            return MofResult(achieved, verdicts, cls, missing)
        achieved = cls
    return MofResult(achieved, verdicts, None)
