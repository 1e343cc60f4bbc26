"""catalog/mof.py reproduces the Model Openness Tool's verdicts from the tool's own component lists, and
every catalog model the tool evaluates carries the tool's verdict (tests/unit/data/mot_verdicts.yaml,
written by docs/catalog-checks/mot_verdicts.py from the tool's files at a commit)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bakeoff.catalog import mof
from bakeoff.catalog.load import catalog
from bakeoff.catalog.openness import mof_result
from bakeoff.catalog.schema import COMPONENTS, Licence, Openness

MOT = yaml.safe_load((Path(__file__).parent / "data" / "mot_verdicts.yaml").read_text())
VERDICTS = MOT["verdicts"]


def licence(name: str) -> Licence:
    """The catalog's licence of that SPDX id; else one open exactly when the tool counts it open (a
    custom licence, or a misspelt SPDX id such as "Apache 2.0", is not)."""
    ours = catalog().licences.get(name.lower())
    if ours is not None:
        return ours
    return Licence(id=name, name=name, category="proprietary", osi_approved=MOT["open"].get(name, False),
                   commercial="conditional", source="https://example.org/licence")


def record_and_licences(components: dict[str, str | None]) -> tuple[Openness, dict[str, Licence], list]:
    comps: dict[str, dict] = {}
    licences: dict[str, Licence] = {}
    weights: list = [("m", licence("Apache-2.0"))]
    for key, name in components.items():
        assert key in COMPONENTS, key
        lic = None if name in (None, "unlicensed") else licence(name)
        if key == "weights":
            weights = [("m", lic or licence("unlicensed (no licence)"))]
            comps[key] = {"status": "open", "evidence": "https://example.org/w"}
            continue
        if lic is not None:
            licences[lic.id] = lic
        comps[key] = {"status": "open", "license": lic.id if lic else None, "evidence": f"https://example.org/{key}"}
    return Openness.model_validate(comps), licences, weights


@pytest.mark.parametrize("verdict", VERDICTS, ids=[v["model"] for v in VERDICTS])
def test_mof_class_matches_the_model_openness_tool(verdict: dict) -> None:
    rec, licences, weights = record_and_licences(verdict["components"])
    result = mof.evaluate(rec, licences, weights)
    assert result.mof_class == verdict["mof_class"], verdict["source"]
    assert sorted(b.key for b in result.blockers) == verdict["next_class_needs"], verdict["source"]


def test_the_verdicts_cover_every_class_and_both_stand_in_cases() -> None:
    classes = {v["mof_class"] for v in VERDICTS}
    assert classes == {None, 1, 3}
    # A paper standing in for the report (OLMo), and an arXiv-licensed paper that cannot (DeepSeek-R1).
    assert any("paper" in v["components"] and "tech_report" not in v["components"] and v["mof_class"] == 1
               for v in VERDICTS)
    assert any(v["components"].get("paper", "").startswith("arXiv") for v in VERDICTS)


def test_the_catalog_and_the_tool_agree_on_which_licences_are_open() -> None:
    cat = catalog()
    shared = [name for name in MOT["open"] if name.lower() in cat.licences]
    assert {"Apache-2.0", "MIT", "CC-BY-4.0", "BigScience-BLOOM-RAIL-1.0"} <= set(shared)
    for name in shared:
        assert cat.licences[name.lower()].mof_open == MOT["open"][name], name


def test_every_catalog_model_the_tool_evaluates_carries_its_verdict() -> None:
    """An entry whose Hugging Face repository a MOT file links to must cite that file, and each entry's
    recorded verdict is the one the tool's rules give (rerun docs/catalog-checks/mot_verdicts.py)."""
    by_model = {v["model"]: v for v in VERDICTS}
    covered = 0
    for e in catalog().entries.values():
        files = MOT["repos"].get(e.hf_repo.lower(), [])
        if e.mot is None:
            assert not files, f"{e.id}: the MOT evaluates {e.hf_repo} in {files}; record its verdict in `mot`"
            continue
        model = e.mot.source.rsplit("/", 1)[1].removesuffix(".yml")
        verdict = by_model.get(model)
        assert verdict and e.id in verdict["catalog"], f"{e.id}: {model} has no verdict in the test data"
        assert e.mot.source == verdict["source"], e.id
        assert e.mot.mof_class == verdict["mof_class"], f"{e.id}: the MOT gives {verdict['mof_class']}"
        assert not files or model in files, f"{e.id}: cites {model}, but the MOT file for {e.hf_repo} is {files}"
        covered += 1
    assert covered == sum(len(v["catalog"]) for v in VERDICTS) >= 29


def test_each_required_component_counted_otherwise_than_by_the_tool_says_why() -> None:
    """Where the catalog and the tool disagree on a required component of a model the tool evaluates
    (counted open by one, not the other), the component's note names the MOT and says why."""
    cat = catalog()
    silent = []
    for verdict in VERDICTS:
        for eid in verdict["catalog"]:
            for c in mof_result(cat, cat.get(eid)).components:
                tool = verdict["components"].get(c.key)
                if COMPONENTS[c.key].required and (tool is not None and MOT["open"][tool]) != c.counted \
                        and "MOT" not in (c.note or ""):
                    silent.append(f"{eid}: {c.key} (tool: {tool or 'not listed'}; here: {c.why})")
    assert not silent, "\n".join(silent)
