"""`bakeoff catalog`, `catalog show`, `catalog tree`, `recommend`: the commands a user types."""

from __future__ import annotations

import pytest

from bakeoff.models import fit
from cli_run import run, run_json


def test_task_filter_finds_the_medical_model(capsys) -> None:
    rows = run_json(capsys, "catalog", "--task", "medical")
    assert [r["id"] for r in rows] == ["biomistral-7b"]
    code, out, _ = run(capsys, "catalog", "--task", "medical")
    assert code == 0 and "biomistral-7b" in out


@pytest.mark.parametrize("args, check", [
    (["--open", "5"], lambda r: r["criteria"] == 5),
    (["--open", "mof-iii"], lambda r: r["mof"] in (1, 2, 3)),
    (["--license", "mit"], lambda r: r["license"] == "mit"),
    (["--commercial"], lambda r: r["commercial"] in ("yes", "conditional")),
    (["--max-params", "2B"], lambda r: r["params_b"] <= 2),
    (["--min-context", "32k"], lambda r: (r["context"] or 0) >= 32768),
    (["--family", "falcon"], lambda r: r["family"] == "falcon"),
])
def test_filters(capsys, args: list[str], check) -> None:
    rows = run_json(capsys, "catalog", *args)
    every = run_json(capsys, "catalog")
    assert rows and len(rows) < len(every)
    assert all(check(r) for r in rows)
    assert [r["id"] for r in every if check(r)] == [r["id"] for r in rows]


def test_sort_by_any_column_both_ways(capsys) -> None:
    up = run_json(capsys, "catalog", "--sort", "params_b")
    down = run_json(capsys, "catalog", "--sort", "params_b", "--desc")
    assert [r["params_b"] for r in up] == sorted(r["params_b"] for r in up)
    assert down[0]["id"] == "deepseek-r1" or down[0]["params_b"] == max(r["params_b"] for r in up)


def test_sort_by_release_puts_the_newest_first_and_unknown_last(capsys) -> None:
    rows = run_json(capsys, "catalog", "--sort", "released", "--desc")
    known = [r["released"] for r in rows if r["released"]]
    assert known == sorted(known, reverse=True) and known[0] >= "2026-04"
    assert all(r["released"] is None for r in rows[len(known):])


def test_fits_uses_this_machines_memory(capsys, monkeypatch) -> None:
    monkeypatch.setattr(fit, "available_bytes", lambda: 4 << 30)
    rows = run_json(capsys, "catalog", "--fits", "Q4_K_M")
    assert rows and all(r["fit"] == "fits" and r["memory_bytes"] <= 0.7 * (4 << 30) for r in rows)
    ids = {r["id"] for r in rows}
    assert "smollm2-135m-instruct" in ids and "llama-2-70b" not in ids


@pytest.mark.parametrize("args, valid", [
    (["--task", "medicine"], "medical"),
    (["--license", "gpl"], "apache-2.0"),
    (["--open", "6"], "mof-i"),
    (["--family", "llama2"], "llama-2"),
    (["--fits", "Q5_K_M"], "Q4_K_M"),
    (["--sort", "size"], "params_b"),
])
def test_unknown_filter_values_list_the_valid_ones(capsys, args: list[str], valid: str) -> None:
    code, out, err = run(capsys, "catalog", *args)
    assert code == 2 and "Traceback" not in err
    assert err.count("\n") == 1 and valid in err


def test_show_olmo_gives_a_sourced_card(capsys) -> None:
    code, out, _ = run(capsys, "catalog", "show", "olmo-7b")
    assert code == 0
    for text in ("Allen Institute for AI", "5/5 criteria", "Model Openness Framework v1.0: Class III Open Model",
                 "Evaluation data", "fully open source", "Model Openness Tool: Class I Open Science",
                 "we differ: MOT lists OLMo's evaluation data without a licence",
                 "https://huggingface.co/datasets/allenai/dolma", "https://github.com/allenai/OLMo",
                 "Q4_K_M", "Q8_0", "F16", "recommended quantization for this machine",
                 "descendants: olmo-7b-instruct"):
        assert text in out, text
    data = run_json(capsys, "catalog", "show", "olmo-7b")
    assert data["openness"]["mof_class"] == 3
    q4, f16 = data["memory"]["Q4_K_M"], data["memory"]["F16"]
    assert q4["weights_bytes"] < f16["weights_bytes"] and q4["kv_cache_bytes"] == f16["kv_cache_bytes"]
    assert data["recommended_quant"] in ("Q4_K_M", "Q8_0", "F16", None)


def test_a_licence_no_source_states_reads_unknown_everywhere(capsys) -> None:
    """Olmo 3 32B's licence rests only on a third-party summary: the catalog says unknown, promises no
    commercial use, gives no MOF class, and `--commercial` leaves it out."""
    code, out, _ = run(capsys, "catalog", "show", "olmo-3-32b")
    assert code == 0
    for text in ("unknown (not verified) — commercial: unknown", "source (licence): none verified",
                 "licence not verified: read the repository's own licence", "aiwiki.ai"):
        assert text in out, text
    data = run_json(capsys, "catalog", "show", "olmo-3-32b")
    assert data["licence"]["id"] == "unknown" and data["openness"]["mof_class"] is None
    assert "unknown (not verified) is not an open licence" in out
    row = next(r for r in run_json(capsys, "catalog", "--family", "olmo-3") if r["id"] == "olmo-3-32b")
    assert (row["license"], row["commercial"]) == ("unknown", "unknown")
    assert "olmo-3-32b" not in [r["id"] for r in run_json(capsys, "catalog", "--commercial")]
    assert "olmo-3-7b" in [r["id"] for r in run_json(capsys, "catalog", "--commercial")]


def test_show_derivative_lists_lineage_and_inherited_licence(capsys) -> None:
    data = run_json(capsys, "catalog", "show", "biomistral-7b")
    assert data["ancestors"] == ["mistral-7b-instruct-v0.1", "mistral-7b"]
    code, out, _ = run(capsys, "catalog", "show", "llama-pro-8b")
    assert "lineage: llama-pro-8b ← llama-2-7b" in out and "700 million" in out


def test_unknown_id_answers_did_you_mean(capsys) -> None:
    code, out, err = run(capsys, "catalog", "show", "olmo7b")
    assert code == 3 and "did you mean" in err and "olmo-7b" in err and "Traceback" not in err


def test_tree_shows_descendants(capsys) -> None:
    code, out, _ = run(capsys, "catalog", "tree", "llama-2")
    assert code == 0
    for text in ("llama-2-7b", "elyza-japanese-llama-2-7b", "llama-pro-8b [block-expansion]", "llama-2-70b-chat"):
        assert text in out
    data = run_json(capsys, "catalog", "tree", "mistral")
    root = next(r for r in data["roots"] if r["id"] == "mistral-7b")
    kids = {c["id"] for c in root["children"]}
    assert {"openmath-mistral-7b", "mistral-7b-instruct-v0.1"} <= kids
    code, _, err = run(capsys, "catalog", "tree", "lama")
    assert code == 2 and "llama-2" in err


def test_recommend_chat_ranks_with_reasons(capsys, monkeypatch) -> None:
    rec = run_json(capsys, "recommend", "--task", "chat", "--max-memory", "2GiB")
    recs = rec["front"] + rec["dominated"] + rec["unknown"]
    assert recs and all(r["memory_bytes"] <= 2 << 30 for r in recs)
    assert all(any("licence" in x for x in r["reasons"]) and any("openness" in x for x in r["reasons"])
               for r in recs)
    code, out, _ = run(capsys, "recommend", "--task", "chat", "--max-memory", "1GiB", "--license", "apache-2.0")
    assert code == 0 and "1 " in out and "gemma" not in out
    code, _, err = run(capsys, "recommend", "--task", "poetry")
    assert code == 2 and "chat" in err


def test_recommend_uses_benchmarks_measured_here(capsys, bakeoff_home) -> None:
    from bakeoff.store import bench as B
    from bakeoff.store.db import connect

    db = connect()
    B.save_run(db, model="tinyllama-1.1b-chat", model_sha256="x" * 64, task="arc_easy", settings={},
               n=50, scores={"acc": {"value": 0.6, "stderr": 0.07, "n": 50}}, seconds=1.0)
    db.close()
    rec = run_json(capsys, "recommend", "--task", "chat", "--max-memory", "2GiB")
    tiny = next(r for r in rec["front"] + rec["dominated"] if r["id"] == "tinyllama-1.1b-chat")
    assert any("benchmark arc_easy acc 0.600 ± 0.070 (n=50)" in x for x in tiny["reasons"])


def test_show_explains_what_holds_a_model_back(capsys) -> None:
    code, out, _ = run(capsys, "catalog", "show", "mistral-7b")
    assert code == 0
    assert "held back from Class III Open Model by: Data card" in out
    assert "✗ Data card: not published — " not in out and "✗ Data card: not published ← holds it back" in out
    assert "✓ Research paper [cc-by-4.0]: open licence — https://arxiv.org/abs/2310.06825" in out
    assert "≈ Technical report: research paper stands in for it" in out
    data = run_json(capsys, "catalog", "show", "llama-2-7b")
    mof = data["openness"]["mof"]
    assert mof["mof_class"] is None and mof["next_class"] == 3
    assert set(mof["blockers"]) >= {"architecture", "weights"}
    assert data["openness"]["mot"]["mof_class"] is None


def test_show_gives_each_fact_its_source(capsys) -> None:
    code, out, _ = run(capsys, "catalog", "show", "qwen2.5-coder-7b-instruct")
    assert "source (released): https://arxiv.org/abs/2409.12186 — Qwen2.5-Coder technical report v1" in out
    assert "facts checked" in out
    code, out, _ = run(capsys, "catalog", "show", "falcon-7b")
    assert "released" in out and "unknown (no source checked)" in out
    assert "'is trained on English and French data only'" in out
