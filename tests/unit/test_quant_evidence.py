"""Quantization chosen from evidence: a `bakeoff quants` sweep kept in the store decides which
quantization `bakeoff recommend` plans for and (tests/integration/test_pull.py) `bakeoff pull`
fetches; without a sweep the rule decides and the quantization's effect is said to be unknown."""

from __future__ import annotations

import pytest

from bakeoff.catalog.evidence import repo_quants
from bakeoff.catalog.load import catalog
from bakeoff.models.quant_evidence import pick_quant, unused_note
from bakeoff.store.db import connect
from bakeoff.store.quants import quant_reports, save_quant_report
from cli_run import run, run_json
from quantsweep import Q5_EVIDENCE, QWEN, sweep


def test_the_smallest_supported_type_offered_that_fits_is_picked() -> None:
    ev = sweep(QWEN)
    everything = ["Q4_K_M", "Q5_K_M", "Q6_K", "Q8_0", "F16"]
    pick = pick_quant(ev, everything, lambda q: True)
    assert pick is not None and pick.quantization == "Q5_K_M"     # Q4_K_M was significantly worse
    assert "not significantly worse than Q8_0" in pick.reason and Q5_EVIDENCE in pick.reason
    assert "suite support (run 7)" in pick.reason and "KLD bar 0.05" in pick.reason
    assert pick_quant(ev, ["q4_k_m", "q6_k", "q8_0"], lambda q: True).quantization == "Q6_K"  # not offered
    assert pick_quant(ev, everything, lambda q: q in ("Q8_0", "F16")).quantization == "Q8_0"  # fit
    ref_only = pick_quant(ev, ["Q4_K_M", "Q8_0"], lambda q: True)
    assert ref_only.quantization == "Q8_0" and "reference type" in ref_only.reason
    assert "Q4_K_M rejected: significantly worse" in ref_only.reason
    # Evidence that covers nothing offered chooses nothing: never a type it did not measure.
    assert pick_quant(ev, ["Q4_K_M", "IQ4_XS", "F16"], lambda q: True) is None
    note = unused_note(ev, ["Q4_K_M", "IQ4_XS"])
    assert "covers Q4_K_M rejected" in note and "none of the supported types is offered" in note


def test_sweeps_round_trip_through_the_store_latest_per_reference() -> None:
    db = connect()
    first = save_quant_report(db, sweep(QWEN))
    later = save_quant_report(db, sweep(QWEN, (531, 421, 391, 381)))
    other = save_quant_report(db, sweep({"general.name": "Tiny"}))
    kept = quant_reports(db)
    db.close()
    assert [k.id for k in kept] == [other, later] and first < later      # the newest per reference
    assert kept[1].quants[2] == sweep(QWEN, (531, 421, 391, 381)).quants[2]
    assert kept[1].reference_quant == "Q8_0" and kept[1].created_at[:2] == "20"


def test_a_repo_finds_the_sweep_of_its_model() -> None:
    db = connect()
    save_quant_report(db, sweep(QWEN))
    save_quant_report(db, sweep({"general.name": "Tiny"}))
    cat = catalog()
    # The catalog knows Qwen's GGUF repo: the sweep of a file that is that entry applies.
    assert repo_quants(cat, db, "Qwen/Qwen2.5-0.5B-Instruct-GGUF").identity == QWEN
    assert repo_quants(cat, db, "Qwen/Qwen2.5-1.5B-Instruct-GGUF") is None       # another model
    # A model the catalog does not know matches by the name its GGUF gives.
    assert repo_quants(cat, db, "test-org/Tiny-GGUF").identity == {"general.name": "Tiny"}
    assert repo_quants(cat, db, "test-org/Tinier-GGUF") is None
    db.close()


def test_recommend_plans_for_the_measured_quantization_and_says_why(capsys: pytest.CaptureFixture[str]) -> None:
    before = run_json(capsys, "recommend", "--task", "chat", "--max-memory", "16GiB", "--top", "20")
    qwen = next(c for c in before["front"] + before["dominated"] if c["id"] == "qwen2.5-0.5b-instruct")
    assert qwen["quantization"] == "Q8_0" and not qwen["quant_measured"]      # the rule, for a small model
    assert "effect on quality is unknown here" in qwen["quant_basis"] and qwen["quant_basis"] in qwen["reasons"]

    db = connect()
    save_quant_report(db, sweep(QWEN))
    db.close()
    after = run_json(capsys, "recommend", "--task", "chat", "--max-memory", "16GiB", "--top", "20")
    qwen2 = next(c for c in after["front"] + after["dominated"] if c["id"] == "qwen2.5-0.5b-instruct")
    assert qwen2["quantization"] == "Q5_K_M" and qwen2["quant_measured"]
    assert Q5_EVIDENCE in qwen2["quant_basis"] and qwen2["quant_basis"] in qwen2["reasons"]
    # Smaller weights than at Q8_0 (sized from the sweep's files), so less memory and more speed.
    assert qwen2["memory_bytes"] < qwen["memory_bytes"] and qwen2["output_tps"] > qwen["output_tps"]
    others = [c for c in after["front"] + after["dominated"] if c["id"] != "qwen2.5-0.5b-instruct"]
    assert others and all(not c["quant_measured"] and "unknown here" in c["quant_basis"] for c in others)
    code, out, _ = run(capsys, "recommend", "--task", "chat", "--max-memory", "16GiB", "--all")
    assert code == 0 and "Q5_K_M (measured here)" in out and "Q8_0 (rule)" in out
