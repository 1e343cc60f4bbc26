"""The HTML report in headless Chromium: charts and the per-case matrix render, with no network."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bakeoff.cli.main import main
from fake_engine import install

pytestmark = pytest.mark.browser

SUITE = """\
name: browser
prompt: "{{q}}"
cases:
  - {id: greet, vars: {q: "say <b>hi</b>"}, assert: [{type: icontains, value: hello}]}
  - {id: count, vars: {q: "count to 3"}, assert: [{type: contains, value: "1 2 3"}]}
  - {id: json, vars: {q: "json"}, assert: [{type: is-json}]}
"""


def test_report_renders_charts_and_matrix_offline(tmp_path: Path, capsys) -> None:
    from playwright.sync_api import sync_playwright

    undo = install({"fake-a": lambda p: "hello 1 2 3 <script>bad()</script>",
                    "fake-b": lambda p: '{"x": 1}'})
    try:
        (tmp_path / "s.yaml").write_text(SUITE)
        assert main(["run", "--suite", str(tmp_path / "s.yaml"), "--models", "fake-a,fake-b",
                     "--repeats", "2", "--json"]) == 0
    finally:
        undo()
    html = Path(json.loads(capsys.readouterr().out)["report"]["html"])
    requests: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium",
                                     args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        page = browser.new_page()
        page.on("request", lambda r: requests.append(r.url))
        page.goto(html.as_uri())
        for chart in ("#chart-cost", "#chart-speed"):
            assert page.locator(f"{chart} circle").count() == 2
            assert page.locator(f"{chart} g.point[data-model='fake-a']").count() == 1
        assert page.locator("#leaderboard tr").count() == 3
        assert page.locator("#matrix tr[data-case]").count() == 3
        assert page.locator("#matrix th").all_inner_texts() == ["case", "fake-a", "fake-b"]
        greet = page.locator("#matrix tr[data-case='greet'] td")
        assert "pass" in greet.nth(1).get_attribute("class") and "fail" in greet.nth(2).get_attribute("class")
        assert "<script>bad()</script>" in greet.nth(1).inner_text()  # answers are shown as text
        assert "say <b>hi</b>" in greet.nth(0).inner_text()
        assert page.locator("#prices tr").count() >= 3
        # The pairwise matrix: fake-a passes greet and count, fake-b only json (2 vs 1 discordant).
        assert page.locator("#pairs th").all_inner_texts() == ["", "fake-a", "fake-b", "fake-a (rank 1)",
                                                             "fake-b (rank 1)"]
        cell = page.locator("#pairs tr").nth(1).locator("td").nth(1)
        assert cell.inner_text().startswith("2–1, p = 1.00")
        assert "no detectable difference" in cell.get_attribute("title")
        assert "not yet a finding" in page.locator("#ranking").inner_text()
        browser.close()
    assert requests == [html.as_uri()]  # self-contained: nothing else was fetched
