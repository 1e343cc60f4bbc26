"""catalog/mof.py reproduces the Model Openness Tool's verdicts from the tool's own component lists
(tests/unit/data/mot_verdicts.yaml: class and the components missing for the next class)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bakeoff.catalog import mof
from bakeoff.catalog.load import catalog
from bakeoff.catalog.schema import COMPONENTS, Licence, Openness

VERDICTS = yaml.safe_load((Path(__file__).parent / "data" / "mot_verdicts.yaml").read_text())["verdicts"]
# The tool's licence names -> the catalog's licences; a name the tool does not count as open (a
# custom licence, or a misspelt SPDX id such as "Apache 2.0") becomes a closed licence of that name.
SPDX = {"Apache-2.0": "apache-2.0", "MIT": "mit", "CC-BY-4.0": "cc-by-4.0", "CC-BY-SA-4.0": "cc-by-sa-4.0"}


def licence(name: str) -> Licence:
    cat = catalog()
    if name in SPDX:
        return cat.licences[SPDX[name]]
    return Licence(id=name, name=name, category="proprietary", osi_approved=False, commercial="conditional",
                   source="https://example.org/licence")


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
