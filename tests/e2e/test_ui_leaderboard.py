"""The Leaderboard page with real bakeoff runs in the server's store: run picker, the terminal's
table (n and ± SE), the HTML report's own charts, inert model names, and the full report."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import expect

from bakeoff.evals.runner import RunOptions, run_suite
from bakeoff.evals.speed import Workload
from bakeoff.evals.suite import load_suite
from fake_engine import install

pytestmark = pytest.mark.browser

SUITE = """\
name: board-ui
prompt: "{{q}}"
cases:
  - {id: hi, vars: {q: "say hi"}, assert: [{type: icontains, value: hi}]}
  - {id: two, vars: {q: "2+2"}, assert: [{type: contains, value: "4"}]}
  - {id: json, vars: {q: "json"}, assert: [{type: is-json}]}
"""
EVIL = "<img src=x onerror=window.__xss=1>"
MODELS = ["fake-good", "fake-half", EVIL]
# Small workloads: the fake engine's speed is what it is; the point is that speed is measured.
SMALL = (Workload("short", 20, 8, "Continue:\n\n"), Workload("long", 40, 2, "Summarise:\n\n"))


@pytest.fixture(scope="module")
def runs(live_server, tmp_path_factory):
    """Two stored runs: an older one with two models, the newest with the hostile name too."""
    suite_file = tmp_path_factory.mktemp("suite") / "board.yaml"
    suite_file.write_text(SUITE)
    undo = install({"fake-good": lambda p: '{"a": "hi 4"}', "fake-half": lambda p: "hi 4",
                    EVIL: lambda p: "no"})
    try:
        suite = load_suite(suite_file)
        opts = RunOptions(speed_repeats=2, workloads=SMALL)
        ids = [run_suite(suite, models, opts, settings=live_server.settings)
               for models in (MODELS[:2], MODELS)]
    finally:
        undo()
    return {"ids": ids, "suite_dir": str(suite_file.parent)}


def test_bakeoff_run_table_charts_and_inert_names(page, live_server, runs, artifacts):
    old, new = runs["ids"]
    page.goto(f"{live_server.url}/#leaderboard")
    picker = page.locator("[data-testid=bakeoff-run]")
    expect(picker.locator("option")).to_have_count(2)
    expect(picker).to_have_value(str(new))   # newest first
    rows = page.locator("[data-testid=bakeoff-row]")
    expect(rows).to_have_count(3)
    assert rows.nth(0).locator("td").nth(1).inner_text() == "fake-good"
    assert rows.nth(0).locator("td").nth(2).inner_text() == "100% ± 0% (n=3)"
    assert rows.nth(1).locator("td").nth(2).inner_text() == "67% ± 27% (n=3)"
    # Three cases cannot separate them: everyone shares rank 1, and the page says so.
    assert [rows.nth(i).locator("td").nth(0).inner_text() for i in range(3)] == ["1", "1", "1"]
    expect(page.get_by_test_id("ranking")).to_contain_text("not yet a finding")
    assert rows.nth(0).locator("td").nth(4).inner_text().startswith("$")   # $ per passing case
    for chart in ("#chart-cost", "#chart-speed"):
        svg = page.locator(f"[data-testid=bakeoff-charts] svg{chart}")
        expect(svg.locator("g.point circle")).to_have_count(3)
        for model in MODELS:
            assert svg.locator("g.point").filter(has_text=model).count() == 1
    expect(page.locator("#chart-cost g.ref").first).to_be_visible()   # hosted API prices
    expect(page.get_by_test_id("prices-note")).to_contain_text("last checked 2024-10-01")   # and their age
    # The hostile name is text in the table and in both charts; nothing ran, no image was made.
    expect(rows.nth(2).locator("td").nth(1)).to_have_text(EVIL)
    assert page.locator("img").count() == 0
    assert page.evaluate("window.__xss") is None
    # The report's pairwise matrix, with the same strings: row vs column, from the row's side.
    pairs = page.locator("[data-testid=pair-row]")
    expect(pairs).to_have_count(3)
    assert pairs.nth(0).locator("th").inner_text() == "fake-good (rank 1)"
    expect(pairs.nth(2).locator("th")).to_have_text(f"{EVIL} (rank 1)")
    good_vs_evil = pairs.nth(0).locator("td").nth(2)     # 3 cases only fake-good passed, Holm over 3 pairs
    assert good_vs_evil.inner_text().splitlines() == [
        "3–0, p = 0.75", "score Δ +1.000 (+1.000 to +1.000, n=3)", "0 both passed, 0 both failed"]
    assert good_vs_evil.get_attribute("data-state") == "tie"
    assert "no detectable difference" in good_vs_evil.get_attribute("title")
    assert pairs.nth(2).locator("td").nth(0).inner_text().startswith("0–3, p = 0.75\nscore Δ -1.000")
    assert pairs.nth(1).locator("td").nth(1).inner_text() == "–"            # the diagonal
    page.screenshot(path=str(artifacts / "ui-leaderboard-bakeoff.png"), full_page=True)

    picker.select_option(str(old))
    expect(rows).to_have_count(2)
    expect(page.locator("#chart-speed g.point circle")).to_have_count(2)
    expect(pairs).to_have_count(2)


def test_open_full_report_rendered_from_the_store(page, live_server, runs, artifacts):
    new = runs["ids"][1]
    page.goto(f"{live_server.url}/#leaderboard")
    with page.context.expect_page() as opened:
        page.click("[data-testid=open-report]")
    report = opened.value
    report.wait_for_load_state()
    assert report.url == f"{live_server.url}/api/bakeoffs/{new}/report"
    expect(report.locator("h1")).to_contain_text(f"Bakeoff run {new}")
    expect(report.locator("#leaderboard tr")).to_have_count(4)
    for chart in ("#chart-cost", "#chart-speed"):
        expect(report.locator(f"{chart} g.point circle")).to_have_count(3)
    expect(report.locator("#matrix tr[data-case]")).to_have_count(3)
    assert report.locator("img").count() == 0 and report.evaluate("window.__xss") is None
    report.screenshot(path=str(artifacts / "ui-bakeoff-report.png"), full_page=True)

    res = httpx.get(report.url)
    assert "script-src" not in res.headers["content-security-policy"]   # default-src 'none'
    assert runs["suite_dir"] not in res.text and str(live_server.settings.home) not in res.text
    missing = httpx.get(f"{live_server.url}/api/bakeoffs/999/report")
    assert missing.status_code == 404 and "unknown bakeoff run '999'" in missing.json()["error"]["message"]
