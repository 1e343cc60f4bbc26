"""`bakeoff recommend`: sourced quality against expected speed and memory, measured results here,
the shortlist command, and constraints that leave nothing."""

from __future__ import annotations

import pytest

from bakeoff.catalog.load import catalog
from bakeoff.catalog.scores import quality, scores
from bakeoff.store import evals as S
from bakeoff.store.db import connect
from cli_run import run, run_json


def _save_cases(db, model: str, suite: str, passed: list[bool], runs: int = 1) -> None:
    for k in range(runs):
        run_id = S.create_run(db, suite_name=suite, suite_path=f"{suite}.yaml", suite_sha256="x",
                              signature=f"{suite}-{model}-{k}", models=[model], settings={})
        for i, ok in enumerate(passed):
            S.save_result(db, run_id, model, {
                "case_id": f"c{i}", "position": i, "status": "pass" if ok else "fail", "score": float(ok),
                "pass_score": float(ok), "reason": "", "output": "", "prompt": [], "assertions": [],
                "usage": {}, "timings": {}, "cost_usd": 0.0, "cached": 0})


def test_every_score_names_a_catalog_model_and_its_source() -> None:
    data, cat = scores(), catalog()
    assert len(data.scores) >= 60
    prefix = {"olb2": "https://huggingface.co/datasets/open-llm-leaderboard/",
              "lmarena": "https://lmarena.ai/leaderboard/text"}
    for rec in data.scores:
        assert rec.model in cat.entries and rec.url.startswith(prefix[rec.source])
        lo, hi = rec.interval.get("rating", (rec.scores.get("rating", 0),) * 2)
        assert lo <= rec.scores.get("rating", lo) <= hi            # an interval holds its point
    src = data.sources["olb2"]
    assert src.date and src.normalisation_url.startswith("https://") and "random" in src.normalisation
    arena = data.sources["lmarena"]
    assert arena.scale != src.scale and "github.com/lmarena/" in arena.read_from


def test_quality_is_sourced_or_unknown_never_imputed() -> None:
    q = quality("qwen2.5-7b-instruct", "chat")
    assert q.value == pytest.approx(35.20) and "Open LLM Leaderboard v2" in q.source
    assert q.url.endswith("Qwen__Qwen2.5-7B-Instruct-details")
    assert quality("qwen2.5-7b-instruct", "math").value == pytest.approx(50.00)
    qwen3 = quality("qwen3-8b", "chat")                # on neither source
    assert not qwen3.known and qwen3.label() == "unknown" and "not evaluated" in qwen3.method
    gemma = quality("gemma-3-4b-it", "chat")           # released after the leaderboard closed: the arena only
    assert gemma.value is None and gemma.known and gemma.label() == "arena 1303 (1294-1312)"
    assert "not on the 0-100 scale" in gemma.reason() and "LMArena" in gemma.reason()
    code = quality("qwen2.5-coder-7b-instruct", "code")
    assert code.value is None and "no sourced benchmark covers the task 'code'" in code.reason()


def _beats(a: dict, b: dict) -> int | None:
    """+1 / -1 / 0 on the first published source that scored both (arena: intervals apart), as
    recommend compares; None when none did."""
    from bakeoff.catalog.scores import Quality, compare

    def q(d: dict) -> Quality:
        one = lambda x: Quality(x["task"], x["value"], x["source"], scale=x["scale"],           # noqa: E731
                                interval=tuple(x["interval"]) if x["interval"] else None)
        return Quality(**{**vars(one(d)), "also": tuple(one(x) for x in d["also"])})
    return compare(q(a["quality"]), q(b["quality"]))


def _higher(b: dict, a: dict) -> bool:
    """b scores higher than a on a sourced leaderboard that scored b (a unscored there counts as lower)."""
    scores = lambda q: {x["source"]: x["value"] for x in (q, *q["also"]) if x["value"] is not None}  # noqa: E731
    sa, sb = scores(a["quality"]), scores(b["quality"])
    return any(src not in sa or v > sa[src] for src, v in sb.items())


def _rule_holds(ordered: list[dict], min_speed: float) -> list[str]:
    """Pairs breaking the rule: a model released before 2023, or slower than min-speed, placed
    above a newer model that scores higher on the sourced data (and fits, being listed)."""
    broken = []
    for i, a in enumerate(ordered):
        if a["output_tps"] < min_speed:
            broken.append(f"{a['id']} is slower than {min_speed}")
        for b in ordered[i + 1:]:
            if not (a["released"] and b["released"]):      # a release date no source states
                continue
            newer_and_better = b["released"] > a["released"] and _higher(b, a)
            if newer_and_better and a["released"] < "2023":
                broken.append(f"{a['id']} ({a['released']}) above {b['id']} ({b['released']})")
    return broken


@pytest.mark.parametrize("memory, min_speed", [("16GiB", 1.0), ("16GiB", 5.0), ("64GiB", 0.5), ("4GiB", 10.0)])
def test_chat_rule_old_or_slow_models_never_rank_above_newer_better_ones(capsys, memory, min_speed) -> None:
    rec = run_json(capsys, "recommend", "--task", "chat", "--max-memory", memory, "--min-speed", f"{min_speed}tok/s")
    ordered = rec["front"] + rec["dominated"] + rec["unknown"]
    assert ordered and _rule_holds(ordered, min_speed) == []
    assert all(c["memory_bytes"] <= int(memory[:-3]) << 30 for c in ordered)


def test_chat_front_leads_with_the_leaderboard_not_with_size_or_openness(capsys) -> None:
    rec = run_json(capsys, "recommend", "--task", "chat", "--max-memory", "16GiB", "--min-speed", "1tok/s")
    front = [c["id"] for c in rec["front"]]
    ids = front + [c["id"] for c in rec["dominated"] + rec["unknown"]]
    assert front[0] == "qwen2.5-7b-instruct"
    # The old ranking put SmolLM2, OLMo, Phi-4 and BLOOMZ on top; now quality decides, and a model
    # of unknown quality (BLOOMZ: not on the leaderboard) is listed apart, after every ranked one.
    assert ids.index("qwen2.5-7b-instruct") < ids.index("olmo-7b-instruct")
    assert ids.index("llama-3.1-8b-instruct") < ids.index("olmo-7b-instruct")
    assert "bloomz-7b1" in [c["id"] for c in rec["unknown"]]
    for c in rec["front"][1:]:   # each one down the front is faster or smaller: that is its trade
        assert c["trade"] and "x its speed" in c["trade"]
    listed = rec["front"]
    for i, a in enumerate(listed):      # nobody on the front sits below a model it beats on a source ...
        for b in listed[i + 1:]:
            assert _beats(a, b) in (None, 0, 1), (a["id"], b["id"])
            if _beats(a, b) == 1:       # ... and a model it does not beat is faster or smaller
                assert b["output_tps"] > a["output_tps"] or b["memory_bytes"] < a["memory_bytes"]
    beaten = {c["id"]: c["dominated_by"] for c in rec["dominated"]}
    assert beaten and all(b in ids for b in beaten.values())


def test_output_gives_reasons_sources_and_a_bakeoff_command(capsys) -> None:
    code, out, _ = run(capsys, "recommend", "--task", "chat", "--max-memory", "6GiB", "--suite", "my.yaml")
    assert code == 0
    for text in ("quality (chat)", "expected quality for chat:", "open-llm-leaderboard", "expected speed here",
                 "kept after each constraint", "machine model:", "speed model not yet checked here",
                 "bake off the shortlist on your cases:", "--suite my.yaml", "bakeoff pull "):
        assert text in out, text
    rec = run_json(capsys, "recommend", "--task", "chat", "--max-memory", "6GiB", "--top", "2")
    first = rec["front"][0]
    assert first["local_name"] is None and rec["command"].startswith(f"bakeoff pull {first['gguf_repo']} && ")
    run_part = rec["command"].split(" && ")[-1]
    assert run_part.startswith("bakeoff run --models ") and run_part.count(",") == 1


def test_a_local_embedded_model_is_used_by_name_not_pulled(capsys) -> None:
    rec = run_json(capsys, "recommend", "--task", "chat", "--max-memory", "1GiB", "--top", "20")
    smol = next(c for c in rec["front"] + rec["dominated"] if c["id"] == "smollm2-135m-instruct")
    assert smol["local_name"] == "smollm2-135m"
    if smol["on_front"]:
        assert "smollm2-135m" in rec["command"] and "pull HuggingFaceTB/SmolLM2-135M" not in rec["command"]


def test_measured_pass_rates_count_each_case_once_and_override_the_priors(capsys) -> None:
    db = connect()
    # Five runs of the same 10 cases are 10 cases of evidence, not 50.
    _save_cases(db, "qwen2.5-0.5b-instruct", "support", [True] * 9 + [False], runs=5)
    _save_cases(db, "qwen2.5-7b-instruct", "support", [True] * 4 + [False] * 6)
    rates = {(r.model, r.suite): r for r in S.case_pass_rates(db)}
    db.close()
    assert rates[("qwen2.5-0.5b-instruct", "support")].n_cases == 10
    assert rates[("qwen2.5-0.5b-instruct", "support")].n_runs == 5
    rec = run_json(capsys, "recommend", "--task", "chat", "--max-memory", "16GiB", "--top", "20")
    ids = [c["id"] for c in rec["front"] + rec["dominated"]]
    small = next(c for c in rec["front"] + rec["dominated"] if c["id"] == "qwen2.5-0.5b-instruct")
    assert any("pass rate 90% ± 9% (n=10 distinct cases, 5 run(s))" in r for r in small["reasons"])
    # Measured on the same suite, the small model beats the 7B: it is faster, smaller and, here, better.
    assert ids.index("qwen2.5-0.5b-instruct") < ids.index("qwen2.5-7b-instruct")
    big = next(c for c in rec["front"] + rec["dominated"] if c["id"] == "qwen2.5-7b-instruct")
    assert big["dominated_by"] is not None


def test_a_speed_run_here_overrides_the_prediction_and_checks_it(capsys) -> None:
    db = connect()
    run_id = S.create_run(db, suite_name="s", suite_path="s.yaml", suite_sha256="x", signature="sp",
                          models=["SmolLM2-135M-Instruct-Q4_1"], settings={})
    S.set_model_status(db, run_id, "SmolLM2-135M-Instruct-Q4_1", "done", info={"quantization": "Q4_1"})
    stats = lambda v: {"median": v, "p5": v, "p95": v, "n": 3}                  # noqa: E731
    S.save_speed(db, run_id, "SmolLM2-135M-Instruct-Q4_1", "short", [], {
        "output_tps": stats(40.0), "prompt_tps": stats(300.0), "ttft_s": stats(0.3),
        "prompt_tokens": stats(100), "completion_tokens": stats(300),
        "workload": {"concurrency": 1, "load_avg_1m": 0.5}})
    from bakeoff.store.logs import log_exchange

    for n_out in (64, 5):            # a 5-token answer is too short to time: not a measurement
        log_exchange(db, kind="ask", model="SmolLM2-135M-Instruct-Q4_1", model_sha256=None, quantization="Q4_1",
                     engine_version=None, params={}, prompt="hi", response="...", prompt_tokens=20,
                     completion_tokens=n_out, timings={"output_tps": 50.0, "prompt_tps": 200.0})
    db.close()
    rec = run_json(capsys, "recommend", "--task", "chat", "--max-memory", "1GiB", "--top", "20")
    assert [c["source"] for c in rec["speed_checks"]] == [f"run {run_id}", "ask #1"]
    smol = next(c for c in rec["front"] + rec["dominated"] if c["id"] == "smollm2-135m-instruct")
    assert smol["output_tps"] == 40.0 and smol["prompt_tps"] == 300.0
    assert smol["speed_basis"].startswith("measured here (median of 3, run")
    check = next(c for c in rec["speed_checks"] if c["model"] == "SmolLM2-135M-Instruct-Q4_1")
    assert check["measured"] == 40.0 and check["error"] == pytest.approx(check["predicted"] / 40.0 - 1)
    code, out, _ = run(capsys, "recommend", "--task", "chat", "--max-memory", "1GiB", "--all")
    assert "speed model checked against 2 measurement(s) here: median error" in out
    # every predicted speed now carries the model's error here, and the settings it assumes
    qwen = next(c for c in rec["front"] + rec["dominated"] if c["id"] == "qwen2.5-0.5b-instruct")
    line = next(r for r in qwen["reasons"] if r.startswith("expected speed here"))
    assert "the speed model's median error against 2 measurement(s) here" in line and "± " in line
    assert "threads, 100 prompt then 300 output tokens, context" in line and "F16 KV cache" in line


def test_a_predicted_speed_says_what_it_assumes_and_that_it_is_unchecked(capsys) -> None:
    rec = run_json(capsys, "recommend", "--task", "chat", "--max-memory", "1GiB", "--prompt-tokens", "500")
    line = next(r for r in rec["front"][0]["reasons"] if r.startswith("expected speed here"))
    assert "assumes Q" in line and "500 prompt then 300 output tokens, context" in line
    assert "uncertainty not yet known here" in line


def test_scores_on_different_scales_compare_only_within_a_source() -> None:
    from bakeoff.catalog.scores import Quality, compare

    arena = lambda v, lo, hi: Quality("chat", None, also=(                        # noqa: E731
        Quality("chat", v, "LMArena", scale="arena rating", interval=(lo, hi)),))
    olb = lambda v: Quality("chat", v, "OLB")                                    # noqa: E731
    assert compare(arena(1318, 1312, 1324), arena(1212, 1208, 1216)) == 1
    assert compare(arena(1318, 1312, 1324), arena(1322, 1318, 1327)) == 0         # intervals overlap: a tie
    assert compare(arena(1318, 1312, 1324), olb(35.2)) is None                    # nothing in common
    both = Quality("chat", 23.8, "OLB", also=arena(1212, 1208, 1216).also)
    assert compare(olb(35.2), both) == 1 and compare(arena(1318, 1312, 1324), both) == 1


def test_newer_models_only_the_arena_scored_rank_by_it_against_the_ones_it_also_scored(capsys) -> None:
    rec = run_json(capsys, "recommend", "--task", "chat", "--max-memory", "64GiB", "--top", "20")
    listed = rec["front"] + rec["dominated"]
    ids = [c["id"] for c in listed]
    oss = next(c for c in listed if c["id"] == "gpt-oss-20b")
    assert oss["quality"]["value"] is None and oss["quality"]["also"][0]["source"].startswith("LMArena")
    # gpt-oss-20b (2025) beats Llama 3.1 8B and Llama 2 chat on the arena: it is listed above them
    assert ids.index("gpt-oss-20b") < ids.index("llama-3.1-8b-instruct") < ids.index("llama-2-7b-chat")
    assert "qwen3-8b" in [c["id"] for c in rec["unknown"]]                       # on neither source
    assert _rule_holds(listed + rec["unknown"], 0.0) == []


@pytest.mark.parametrize("args, constraint, detail", [
    (["--task", "chat", "--min-speed", "100000tok/s"], "--min-speed", "the fastest model that fits"),
    (["--task", "chat", "--max-memory", "10MiB"], "memory", "the smallest needs"),
    (["--task", "medical", "--license", "mit"], "--license mit", "none of the 1 models"),
    (["--task", "chat", "--open", "5", "--license", "llama2"], "--open 5", "none of the"),
])
def test_constraints_that_leave_nothing_say_which_one(capsys, args, constraint, detail) -> None:
    code, out, err = run(capsys, "recommend", *args)
    assert code == 2 and "Traceback" not in err
    assert f"no catalog model left after {constraint}" in err and detail in err


@pytest.mark.parametrize("args, valid", [(["--task", "poetry"], "chat"),
                                         (["--task", "chat", "--min-speed", "fast"], "tok/s")])
def test_bad_input_lists_what_is_valid(capsys, args, valid) -> None:
    code, _, err = run(capsys, "recommend", *args)
    assert code == 2 and valid in err and "Traceback" not in err


def test_catalog_show_gives_expected_speed_and_sourced_quality(capsys) -> None:
    code, out, _ = run(capsys, "catalog", "show", "llama-3.1-8b-instruct")
    assert code == 0
    assert "expected quality for chat: 23.8/100 (no interval published) — Open LLM Leaderboard v2" in out
    assert "expected quality for chat: 1212, 95% interval 1208-1216 (arena rating" in out    # beside, not mixed
    assert "expected quality for code: unknown" in out and "output tok/s" in out
    data = run_json(capsys, "catalog", "show", "llama-3.1-8b-instruct")
    q4, f16 = data["expected_speed"]["Q4_K_M"], data["expected_speed"]["F16"]
    assert q4["output_tps"] > 2 * f16["output_tps"]
    assert data["machine"]["measured_at"] == "fixed for tests"


def test_shortlist_command_pulls_what_is_missing_and_skips_what_cannot_run() -> None:
    from types import SimpleNamespace as C

    from bakeoff.catalog.recommend import shortlist_command

    front = [C(id="a", local_name=None, gguf_repo="org/A-GGUF"), C(id="b", local_name=None, gguf_repo=None),
             C(id="c", local_name="smollm2-135m", gguf_repo="x/y"), C(id="d", local_name=None, gguf_repo="org/D")]
    cmd, notes = shortlist_command(front, top=2, suite="my.yaml")
    assert cmd == "bakeoff pull org/A-GGUF && bakeoff run --models org/A-GGUF,smollm2-135m --suite my.yaml"
    assert notes == ["b: no GGUF repository known; convert it with llama.cpp to include it"]


def test_a_pulled_file_answers_to_its_repo_name(bakeoff_home, smollm2_path) -> None:
    from bakeoff.models.registry import Registry

    folder = bakeoff_home / "models" / "pulled" / "org__Tiny-GGUF"
    folder.mkdir(parents=True)
    (folder / "tiny-Q4_1.gguf").symlink_to(smollm2_path)
    assert Registry().resolve("org/Tiny-GGUF").path == str(folder / "tiny-Q4_1.gguf")


def test_a_task_without_sourced_scores_lists_models_as_unknown_and_still_gives_a_shortlist(capsys) -> None:
    rec = run_json(capsys, "recommend", "--task", "code", "--max-memory", "16GiB", "--top", "2")
    assert rec["front"] == [] and rec["dominated"] == [] and len(rec["unknown"]) >= 2
    assert all(c["quality"]["value"] is None for c in rec["unknown"])
    assert "no model that fits has a sourced quality score for code" in rec["notes"][0]
    speeds = [c["output_tps"] for c in rec["unknown"]]
    assert speeds == sorted(speeds, reverse=True)
    assert rec["command"].split(" && ")[-1].startswith("bakeoff run --models ")
    assert rec["command"].split(" && ")[-1].count(",") == 1


def test_planning_for_long_prompts_needs_the_context_and_costs_speed_and_memory(capsys) -> None:
    short = run_json(capsys, "recommend", "--task", "chat", "--max-memory", "16GiB")
    long = run_json(capsys, "recommend", "--task", "chat", "--max-memory", "16GiB", "--prompt-tokens", "30000")
    by_id = {c["id"]: c for c in short["front"] + short["dominated"] + short["unknown"]}
    kept = {c["id"]: c for c in long["front"] + long["dominated"] + long["unknown"]}
    assert "llama-2-7b-chat" in by_id and "llama-2-7b-chat" not in kept          # a 4k context
    assert long["funnel"][1]["after"] == "context 30300"
    q = kept["qwen2.5-7b-instruct"]
    assert q["output_tps"] < by_id["qwen2.5-7b-instruct"]["output_tps"]
    assert q["memory_bytes"] > by_id["qwen2.5-7b-instruct"]["memory_bytes"]
    assert q["predicted"]["prompt_tokens"] == 30000


def test_catalog_show_predicts_at_the_context_asked(capsys) -> None:
    short = run_json(capsys, "catalog", "show", "qwen2.5-7b-instruct")
    long = run_json(capsys, "catalog", "show", "qwen2.5-7b-instruct", "--ctx", "32768")
    assert long["expected_speed"]["Q4_K_M"]["prompt_tokens"] == 32768 - 300
    assert long["expected_speed"]["Q4_K_M"]["output_tps"] < short["expected_speed"]["Q4_K_M"]["output_tps"]


def test_benchmarks_measured_here_on_a_common_task_also_override_the_priors(capsys) -> None:
    from bakeoff.store import bench as B

    db = connect()
    for model, acc in (("qwen2.5-0.5b-instruct", 0.7), ("qwen2.5-7b-instruct", 0.5)):
        B.save_run(db, model=model, model_sha256=model, task="arc_easy", settings={}, n=100,
                   scores={"acc": {"value": acc, "stderr": 0.05, "n": 100}}, seconds=1.0)
    db.close()
    rec = run_json(capsys, "recommend", "--task", "chat", "--max-memory", "16GiB")
    ids = [c["id"] for c in rec["front"] + rec["dominated"]]
    assert ids.index("qwen2.5-0.5b-instruct") < ids.index("qwen2.5-7b-instruct")
    big = next(c for c in rec["dominated"] if c["id"] == "qwen2.5-7b-instruct")
    assert big["dominated_by"] == "qwen2.5-0.5b-instruct"


def test_maker_reported_scores_are_shown_apart_and_never_ranked(capsys) -> None:
    rec = run_json(capsys, "recommend", "--task", "chat", "--max-memory", "1GiB", "--top", "20")
    smol = next(c for c in rec["front"] + rec["dominated"] if c["id"] == "smollm2-135m-instruct")
    card = [r for r in smol["reasons"] if r.startswith("maker-reported (its card)")]
    assert card and all("not comparable with leaderboard scores" in r and "https://" in r for r in card)
    assert {"name": "IFEval", "score": 29.9}.items() <= next(
        m for m in smol["maker_reported"] if m["name"] == "IFEval").items()
    assert smol["quality"]["value"] == pytest.approx(6.47)     # the leaderboard's number decides


def test_newer_models_no_common_source_scored_show_their_makers_numbers_with_date_and_stay_unknown(capsys) -> None:
    """Qwen3 8B, SmolLM3 and Gemma 3 1B came after the leaderboard closed and are not on the arena:
    their makers' own numbers are shown with source and date ('undated' where the card states none),
    and their quality for ranking stays unknown."""
    rec = run_json(capsys, "recommend", "--task", "chat", "--max-memory", "16GiB", "--top", "20")
    unknown = {c["id"]: c for c in rec["unknown"]}
    for model, date in (("qwen3-8b", "2025-05-14"), ("smollm3-3b", "undated"), ("gemma-3-1b-it", "2025-03-25")):
        row = unknown[model]
        assert row["quality"]["value"] is None and row["maker_reported"]
        card = [r for r in row["reasons"] if r.startswith("maker-reported (its card)")]
        assert card and all("never ranked (https://" in r for r in card)
        assert any(r.endswith(f", {date})") for r in card), card


def test_catalog_lists_and_sorts_by_sourced_quality_unknown_last(capsys) -> None:
    rows = run_json(capsys, "catalog", "--task", "chat", "--sort", "quality", "--desc")
    known = [r["quality"] for r in rows if r["quality"] is not None]
    assert known == sorted(known, reverse=True) and known[0] == pytest.approx(44.85)   # Llama 3.3 70B
    assert rows[0]["id"] == "llama-3.3-70b-instruct"
    assert all(r["quality"] is None for r in rows[len(known):])                       # unknown last
    code, out, _ = run(capsys, "catalog", "--task", "chat")
    assert code == 0 and "quality" in out


def test_a_tuned_variant_scores_as_itself_not_as_its_base(capsys, bakeoff_home, smollm2_path) -> None:
    """`bakeoff tune` leaves BASE+NAME in the registry, on the base's own file: its pass rate here
    says nothing about the base model, so the base's catalog entry keeps only its own evidence."""
    from bakeoff.settings import get_settings
    from tuned_models import BASE, register_tuned

    tuned, _, _ = register_tuned(get_settings(), smollm2_path)
    db = connect()
    _save_cases(db, BASE, "orders", [False] * 8 + [True] * 2)
    _save_cases(db, tuned, "orders", [True] * 10)
    db.close()
    rec = run_json(capsys, "recommend", "--task", "chat", "--max-memory", "1GiB", "--top", "20")
    smol = next(c for c in rec["front"] + rec["dominated"] if c["id"] == "smollm2-135m-instruct")
    measured = [r for r in smol["reasons"] if r.startswith("measured here on")]
    assert measured == [f"measured here on {BASE}: suite orders pass rate 20% ± 13% (n=10 distinct cases, 1 run(s))"]


def test_several_files_of_one_model_on_one_suite_are_not_pooled() -> None:
    """A quants sweep stores a pass rate per quant of one model: the comparison uses the rate over
    the most distinct cases, whichever order the store lists them in, never a pool of both."""
    from types import SimpleNamespace

    from bakeoff.catalog.recommend import _measured

    q8 = S.CasePassRate("m-Q8_0", "support", n_cases=40, n_pass=30, n_runs=1)
    q4 = S.CasePassRate("m-Q4_K_M", "support", n_cases=10, n_pass=2, n_runs=3)
    for order in ([q8, q4], [q4, q8]):
        assert _measured(SimpleNamespace(pass_rates=order, bench=[])) == {"suite support": 0.75}
