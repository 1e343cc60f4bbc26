"""Leaderboard and catalog views: empty before any run, summaries once runs exist, and the same
number strings in `bakeoff run`, the UI's board and the HTML report."""

from __future__ import annotations

import io
import json
import math
import re
from xml.etree import ElementTree

import pytest
from rich.console import Console

from bakeoff import boards
from bakeoff.catalog.load import catalog
from bakeoff.catalog.queries import row
from bakeoff.cli.run import leaderboard_table
from bakeoff.errors import NotFoundError
from bakeoff.evals.charts import Point, scatter
from bakeoff.evals.metrics import leaderboard
from bakeoff.evals.runner import RunOptions, run_suite
from bakeoff.evals.speed import Workload
from bakeoff.evals.suite import load_suite
from bakeoff.store import connect
from bakeoff.store.bench import save_run
from bakeoff.store.evals import get_run
from fake_engine import install


def test_empty_before_any_run_and_the_catalog_as_its_table_rows():
    db = connect()
    assert boards.bakeoff_runs(db) == [] and boards.benchmark_runs(db) == []
    cat = catalog()
    assert boards.catalog_entries() == [row(cat, e) for e in cat.entries.values()]
    assert any(e["id"] == "smollm2-135m-instruct" for e in boards.catalog_entries())


SUITE = """\
name: board
prompt: "{{q}}"
cases:
  - {id: hi, vars: {q: "say hi"}, assert: [{type: icontains, value: hi}]}
  - {id: two, vars: {q: "2+2"}, assert: [{type: contains, value: "4"}]}
"""
EVIL = "<img src=x onerror=window.__xss=1>"
SMALL = (Workload("short", 20, 8, "Continue:\n\n"), Workload("long", 40, 2, "Summarise:\n\n"))


def test_bakeoff_board_has_the_reports_charts_and_rows(tmp_path):
    from bakeoff.evals.metrics import board as metrics_board
    from bakeoff.evals.report import charts, render_html

    undo = install({"fake-good": lambda p: "hi, 4", "fake-half": lambda p: "hi", EVIL: lambda p: "no"})
    try:
        (tmp_path / "s.yaml").write_text(SUITE)
        run_id = run_suite(load_suite(tmp_path / "s.yaml"), ["fake-good", "fake-half", EVIL],
                           RunOptions(speed_repeats=2, workloads=SMALL))
    finally:
        undo()
    db = connect()
    assert [(r["id"], r["suite"], r["n_results"], r["n_pass"]) for r in boards.bakeoff_runs(db)] == \
        [(run_id, "board", 6, 3)]
    board = boards.bakeoff_board(db, run_id)
    rows = {r["model"]: r for r in board["rows"]}
    assert [r["model"] for r in board["rows"]][:2] == ["fake-good", "fake-half"]
    assert rows["fake-half"]["pass_rate"] == {"value": 0.5, "se": math.sqrt(0.25 / 2), "n": 2}
    assert rows["fake-good"]["output_tps"]["n"] == 2 and rows[EVIL]["cost"]["blended"]
    # The very markup the HTML report embeds, and nothing of the run's file paths.
    run = get_run(db, run_id)
    assert board["charts"] == charts(leaderboard(run))
    html = render_html(run, *metrics_board(run))
    assert board["charts"]["cost"] in html
    # Reference prices checked over six months ago say so on the board and in the report.
    assert board["prices_note"] and "hosted API reference prices last checked 2024-10-01" in board["prices_note"]
    assert 'id="prices-note"' in html and "(stale)" in html
    assert "suite_path" not in board["run"] and str(tmp_path) not in json.dumps(board)
    with pytest.raises(NotFoundError, match="unknown bakeoff run '999'"):
        boards.bakeoff_board(db, 999)


def test_chart_labels_are_escaped_text():
    label = EVIL + ' "quoted" & \x07bell'
    svg = scatter([Point(label, 10.0, 5.0, 20.0, 0.5, 0.1)], "t <b>", "x", "c", [("<ref>", 3.0)])
    root = ElementTree.fromstring(svg)   # well-formed XML, as the UI parses it
    tags = {el.tag.split("}")[-1] for el in root.iter()}
    assert tags <= {"svg", "g", "line", "circle", "text", "title"}
    point = root.find("{http://www.w3.org/2000/svg}g[@class='point']")
    assert point.get("data-model") == label.replace("\x07", "")
    texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert label.replace("\x07", "") in texts and "<ref>" in texts and "t <b>" in texts


def test_benchmark_rows_flatten_metrics():
    db = connect()
    save_run(db, model="m", model_sha256="x" * 64, task="arc_easy", settings={}, n=50, seconds=1.0,
             scores={"acc": {"value": 0.5, "stderr": 0.07, "n": 50}, "acc_norm": {"value": 0.6, "stderr": 0.07}})
    rows = boards.benchmark_runs(db)
    assert [(r["benchmark"], r["metric"], r["value"], r["n"]) for r in rows] == [
        ("arc_easy", "acc", 0.5, 50), ("arc_easy", "acc_norm", 0.6, 50)]
    assert [r["text"] for r in rows] == ["50.0 ± 7.0 (n=50)", "60.0 ± 7.0 (n=50)"]


def bake(tmp_path, responders) -> int:
    """Run SUITE against fake models answering with `responders`, speed measured; the run's id."""
    undo = install(responders)
    try:
        (tmp_path / "s.yaml").write_text(SUITE)
        return run_suite(load_suite(tmp_path / "s.yaml"), list(responders),
                         RunOptions(speed_repeats=2, workloads=SMALL))
    finally:
        undo()


def test_terminal_board_and_report_show_the_same_strings(tmp_path):
    run_id = bake(tmp_path, {"fake-good": lambda p: "hi, 4", "fake-half": lambda p: "hi"})
    db = connect()
    run = get_run(db, run_id)
    terminal = Console(width=400, file=io.StringIO(), record=True)
    terminal.print(leaderboard_table(leaderboard(run), run))
    printed, html = terminal.export_text(), boards.bakeoff_report_html(db, run_id)
    rows = {r["model"]: r["text"] for r in boards.bakeoff_board(db, run_id)["rows"]}
    assert rows["fake-half"]["pass_rate"] == "50% ± 35% (n=2)" and rows["fake-good"]["mean_score"] == "1.00 ± 0.00"
    assert re.fullmatch(r"\d+ \(\d+–\d+\)", rows["fake-good"]["ttft_ms"])        # median (P5–P95)
    assert re.fullmatch(r"\$\d\.\d{3} \(\d\.\d{3}–\d\.\d{3}\)", rows["fake-good"]["cost_blended"])
    for text in rows.values():
        for key in ("pass_rate", "mean_score", "ttft_ms", "output_tps", "prompt_tps", "cost_blended"):
            assert text[key] in printed and f">{text[key]}<" in html, (key, text[key])


def test_draft_acceptance_column_and_loaded_machine_warning_on_every_surface(tmp_path, monkeypatch):
    """A model that ran speculative decoding gets a draft-acceptance column (the others a dash);
    speed measured while the load average exceeded the CPUs is flagged in the CLI, UI and report."""
    from bakeoff.cli.run import board_notes
    from bakeoff.evals.metrics import board as metrics_board
    from fake_engine import FakeEngine

    monkeypatch.setitem(FakeEngine.drafts, "fake-spec", (10, 7))
    monkeypatch.setattr("bakeoff.evals.speed.os.getloadavg", lambda: (9.5, 5.0, 2.0))
    monkeypatch.setattr("bakeoff.evals.speed.os.cpu_count", lambda: 2)
    run_id = bake(tmp_path, {"fake-spec": lambda p: "hi, 4", "fake-plain": lambda p: "hi"})
    db = connect()
    run = get_run(db, run_id)
    board = boards.bakeoff_board(db, run_id)
    rows = {r["model"]: r["text"] for r in board["rows"]}
    assert board["drafts"] and rows["fake-spec"]["acceptance"] == "70% ± 0% (n=2)"
    assert rows["fake-plain"]["acceptance"] == "–"
    warning = rows["fake-spec"]["speed_warning"]
    assert warning.startswith("speed measured on a loaded machine (load 9.5 on 2 CPUs)")
    terminal = Console(width=400, file=io.StringIO(), record=True)
    terminal.print(leaderboard_table(leaderboard(run), run))
    printed = terminal.export_text()
    assert "draft acceptance" in printed and "70% ± 0% (n=2)" in printed
    rows_, pairs = metrics_board(run)
    assert f"WARNING: fake-spec: {warning}" in board_notes(rows_, pairs, None)
    html = boards.bakeoff_report_html(db, run_id)
    assert ">70% ± 0% (n=2)<" in html and "draft acceptance" in html and warning in html


def test_no_acceptance_column_without_speculation_and_no_warning_on_a_quiet_machine(tmp_path, monkeypatch):
    monkeypatch.setattr("bakeoff.evals.speed.os.getloadavg", lambda: (0.5, 0.5, 0.5))
    run_id = bake(tmp_path, {"fake-plain": lambda p: "hi"})
    db = connect()
    board = boards.bakeoff_board(db, run_id)
    assert not board["drafts"] and board["rows"][0]["text"]["speed_warning"] == ""
    html = boards.bakeoff_report_html(db, run_id)
    assert "draft acceptance" not in html and "loaded machine" not in html
