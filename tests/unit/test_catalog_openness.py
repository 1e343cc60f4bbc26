"""Openness: the five criteria, the MOF v1.0 class component by component (each gated on its own
licence), the index score, tier, and what a derivative inherits from its base."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from bakeoff.catalog import mof
from bakeoff.catalog.load import DATA_DIR, catalog, load_catalog
from bakeoff.catalog.openness import index_score, scorecard
from bakeoff.catalog.schema import MOF_COMPONENTS, Licence, Openness

LICENCES = {
    "apache-2.0": Licence(id="apache-2.0", name="Apache-2.0", category="permissive", osi_approved=True,
                          commercial="yes", source="https://opensource.org/license/apache-2-0"),
    "cc-by-4.0": Licence(id="cc-by-4.0", name="CC-BY-4.0", category="open-data", osi_approved=False,
                         open_data=True, commercial="yes", source="https://creativecommons.org/licenses/by/4.0/"),
    "arxiv": Licence(id="arxiv", name="arXiv non-exclusive", category="publication", osi_approved=False,
                     commercial="no", source="https://arxiv.org/licenses/nonexclusive-distrib/1.0/license.html"),
    "custom": Licence(id="custom", name="Custom Model Licence", category="community", osi_approved=False,
                      commercial="conditional", source="https://example.org/licence"),
}
OPEN_WEIGHTS = [("m", LICENCES["apache-2.0"])]


def record(**override: dict) -> Openness:
    """Every MOF component open under Apache-2.0 (documents under CC-BY-4.0), then the overrides."""
    comps = {}
    for c in MOF_COMPONENTS:
        lic = None if c.key == "weights" else ("cc-by-4.0" if c.kind == "document" else "apache-2.0")
        comps[c.key] = {"status": "open", "license": lic, "evidence": f"https://example.org/{c.key}"}
    for key, change in override.items():
        comps[key] = {**comps[key], **change}
    return Openness.model_validate(comps)


def klass(rec: Openness, weights=OPEN_WEIGHTS, ancestors=None) -> mof.MofResult:
    return mof.evaluate(rec, LICENCES, weights, ancestors)


def test_the_framework_lists_seventeen_components_fourteen_required() -> None:
    assert len(MOF_COMPONENTS) == 17
    required = {cls: sorted(c.key for c in MOF_COMPONENTS if c.mof_class == cls and c.required) for cls in (1, 2, 3)}
    assert required[3] == sorted(["architecture", "weights", "model_card", "data_card", "tech_report", "eval_results"])
    assert required[2] == sorted(["training_code", "inference_code", "eval_code", "eval_data"])
    assert required[1] == sorted(["datasets", "preprocessing_code", "checkpoints", "paper"])


def test_each_missing_class_component_holds_the_model_at_the_class_below() -> None:
    assert klass(record()).mof_class == 1
    for key, expect in [("architecture", None), ("eval_results", None), ("inference_code", 3),
                        ("eval_data", 3), ("preprocessing_code", 2), ("checkpoints", 2)]:
        r = klass(record(**{key: {"status": "closed"}}))
        assert r.mof_class == expect, key
        assert [b.key for b in r.blockers] == [key]
        assert key in {c.key for c in r.components if not c.counted}
    # Optional components never hold a model back.
    assert klass(record(libraries={"status": "closed"}, metadata={"status": "closed"},
                        sample_outputs={"status": "closed"})).mof_class == 1


def test_a_research_paper_stands_in_for_the_technical_report() -> None:
    r = klass(record(tech_report={"status": "closed"}))
    assert r.mof_class == 1
    report = next(c for c in r.components if c.key == "tech_report")
    assert not report.counted and "research paper stands in" in report.why
    # Without an openly licensed paper, the missing report stops Class III.
    r = klass(record(tech_report={"status": "closed"}, paper={"license": "arxiv"}))
    assert r.mof_class is None and [b.key for b in r.blockers] == ["tech_report"]
    assert "arXiv non-exclusive is not an open licence" in r.reason()


def test_each_component_is_gated_on_its_own_licence() -> None:
    # An unlicensed model card does not count, whatever the weights' licence.
    r = klass(record(model_card={"license": None}))
    assert r.mof_class is None and "Model card: no licence on record" in r.reason()
    # A code component under a restrictive licence does not count either.
    r = klass(record(training_code={"license": "custom"}))
    assert r.mof_class == 3 and "Custom Model Licence is not an open licence" in r.reason()
    # Open-data licences count for documents and data.
    assert klass(record(datasets={"license": "cc-by-4.0"})).mof_class == 1
    # Not verified either way does not count either, and needs no evidence.
    r = klass(record(eval_data={"status": "unknown", "evidence": None}))
    assert r.mof_class == 3 and "Evaluation data: not verified against a source" in r.reason()
    # Partly published is not published.
    r = klass(record(datasets={"status": "partial", "note": "an extract"}))
    assert r.mof_class == 2 and "only partly published (an extract)" in r.reason()


def test_a_record_checked_in_part_leaves_the_rest_unknown_not_closed() -> None:
    partial = Openness.model_validate({"unlisted": "unknown", "weights": {"status": "open", "evidence": "https://x.org"}})
    full = Openness.model_validate({"weights": {"status": "open", "evidence": "https://x.org"}})
    assert partial.datasets.status == "unknown" and full.datasets.status == "closed"
    r = klass(partial)
    assert "Data card: not verified against a source" in r.reason()
    assert [k for k, _ in partial.components()] == [c.key for c in MOF_COMPONENTS]


def test_weights_carry_the_licence_of_every_ancestor() -> None:
    chain = [("child", LICENCES["apache-2.0"]), ("base", LICENCES["custom"])]
    r = klass(record(), weights=chain)
    assert r.mof_class is None
    weights = next(c for c in r.components if c.key == "weights")
    assert "Custom Model Licence (inherited from base) is not an open licence" in weights.why


def test_a_derivative_counts_data_only_when_its_base_published_it_too() -> None:
    base = record(data_card={"status": "closed"})
    r = klass(record(), ancestors=[("base-7b", base)])
    assert r.mof_class is None
    card = next(c for c in r.components if c.key == "data_card")
    assert "base model base-7b's data card: not published" in card.why


def test_olmo_meets_all_five_criteria_but_its_evaluation_data_holds_it_at_class_three() -> None:
    """OLMo publishes everything the five criteria ask for; its evaluation sets carry their own
    non-open terms (Paloma: AI2 ImpACT LR), which the MOT papers over with the release licence."""
    cat = catalog()
    sc = scorecard(cat, cat.get("olmo-7b"))
    assert sc.met == ["datasets", "weights", "eval_code", "training_code", "checkpoints"]
    assert sc.fully_open and sc.index == 5.0
    assert sc.mof_class == 3 and sc.mof_label == "Class III"
    assert sc.tier == "fully open source"


def test_llama2_is_weights_only_and_unclassified_because_of_its_licence() -> None:
    cat = catalog()
    sc = scorecard(cat, cat.get("llama-2-7b"))
    assert sc.met == ["weights"]
    assert sc.index == 1.5          # weights 1 + fine-tuning code partial 0.5
    assert sc.mof_class is None and "Llama 2 Community License is not an open licence" in sc.mof_reason
    assert not sc.open_licence and sc.commercial == "conditional"
    assert sc.tier == "open weights, restricted licence"


def test_mixtral_is_held_back_only_by_its_missing_data_card() -> None:
    cat = catalog()
    sc = scorecard(cat, cat.get("mixtral-8x7b"))
    assert sc.met == ["weights"] and sc.index == 1.0
    assert sc.open_licence and sc.commercial == "yes"
    assert sc.mof_class is None and sc.mof["blockers"] == ["data_card"]
    assert sc.tier == "open weights"


def test_issue_cases_falcon_openmath_smollm2() -> None:
    cat = catalog()
    # Falcon: its reports carry no licence we could find, so no Class III (as the MOT says).
    assert scorecard(cat, cat.get("falcon-7b")).mof_class is None
    # OpenMath-Mistral: its base published no data card, so its own cannot make up for it.
    om = scorecard(cat, cat.get("openmath-mistral-7b"))
    assert om.mof_class is None and "data_card" in om.mof["blockers"]
    # SmolLM2's intermediate checkpoints are published.
    rec, _ = cat.openness(cat.get("smollm2-135m-instruct"))
    assert rec.checkpoints.status == "open" and "intermediate-checkpoints" in rec.checkpoints.evidence


def test_index_counts_partial_as_half() -> None:
    assert index_score(record(datasets={"status": "partial"}, checkpoints={"status": "closed"})) == 3.5


def test_a_derivative_inherits_its_bases_licence_restrictions(tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(DATA_DIR, data)
    doc = yaml.safe_load((data / "llama.yaml").read_text())
    elyza = next(m for m in doc["models"] if m["id"] == "elyza-japanese-llama-2-7b")
    elyza["license"] = "apache-2.0"   # even if a derivative claims a permissive licence
    (data / "llama.yaml").write_text(yaml.safe_dump(doc))
    cat = load_catalog(data)
    sc = scorecard(cat, cat.get("elyza-japanese-llama-2-7b"))
    assert sc.commercial == "conditional" and not sc.open_licence and sc.mof_class is None
    assert any("inherited from llama-2-7b" in r and "700 million" in r for r in sc.restrictions)


def test_deepseek_r1_is_mit_and_does_not_inherit_v3_base_restrictions() -> None:
    cat = catalog()
    r1 = cat.get("deepseek-r1")
    assert r1.base == "deepseek-v3-base" and r1.license == "mit"
    sc = scorecard(cat, r1)
    assert sc.open_licence and sc.commercial == "yes" and sc.restrictions == []
    assert [e.id for e, _ in cat.licence_chain(r1)] == ["deepseek-r1"]
    # A third party's derivative of V3-Base would still carry DeepSeek's model licence.
    v3 = scorecard(cat, cat.get("deepseek-v3"))
    assert not v3.open_licence and v3.commercial == "conditional"
