"""Side by side, the blind arena (votes move the ratings; late votes do not count; judge mode),
the leaderboard and catalog pages, in a real browser."""

from __future__ import annotations

import httpx
from playwright.sync_api import expect

SMOL = "SmolLM2-135M-Instruct-Q4_1"


def test_side_by_side_two_models(page, live_server, artifacts):
    page.goto(f"{live_server.url}/#compare")
    for box in page.locator("[data-testid=compare-model]").all():
        box.set_checked(box.get_attribute("value") in (SMOL, "fake-echo"))
    page.locator("details.settings summary").click()
    page.fill("#cmp-max_tokens", "10")
    page.fill("#cmp-temperature", "0")
    page.fill("[data-testid=compare-prompt]", "Name a colour.")
    page.click("[data-testid=compare-send]")
    panes = page.locator("[data-testid=pane]")
    expect(panes).to_have_count(2)
    for i in range(2):
        expect(panes.nth(i).locator("[data-testid=pane-stats]")).to_contain_text("tokens", timeout=60_000)
    names = [panes.nth(i).locator("[data-testid=pane-model]").inner_text() for i in range(2)]
    assert sorted(names) == sorted([SMOL, "fake-echo"])
    echo = panes.nth(names.index("fake-echo"))
    expect(echo.locator("[data-testid=pane-body]")).to_have_text("echo: Name a colour.")
    assert panes.nth(names.index(SMOL)).locator("[data-testid=pane-body]").inner_text().strip()
    page.screenshot(path=str(artifacts / "ui-side-by-side.png"), full_page=True)


def _battle(page, prompt):
    page.fill("[data-testid=arena-prompt]", prompt)
    page.click("[data-testid=arena-send]")


def _ratings(page):
    rows = page.locator("[data-testid=rating-row]")
    return {rows.nth(i).locator("[data-testid=rating-model]").inner_text():
            float(rows.nth(i).locator("[data-testid=rating-value]").inner_text())
            for i in range(rows.count())}


def test_arena_votes_change_ratings_and_late_votes_do_not_count(page, live_server, artifacts):
    page.goto(f"{live_server.url}/#arena")
    page.fill("[data-testid=arena-max-tokens]", "6")
    before = httpx.get(f"{live_server.url}/api/arena/ratings?voter=human").json()

    _battle(page, "Say hello.")
    expect(page.locator("[data-testid=vote-a]")).to_be_visible(timeout=60_000)
    # Blind: no identity on the page before the vote.
    assert page.locator("[data-testid=identity-a]").inner_text() == ""
    assert page.locator("[data-testid=identity-b]").inner_text() == ""
    page.click("[data-testid=vote-a]")
    expect(page.locator("[data-testid=vote-result]")).to_have_text("Vote counted.")
    winner = page.locator("[data-testid=identity-a]").inner_text().lstrip("— ")
    loser = page.locator("[data-testid=identity-b]").inner_text().lstrip("— ")
    assert winner and loser and winner != loser
    page.select_option("[data-testid=ratings-voter]", "human")
    expect(page.locator("[data-testid=rating-row]").first).to_be_visible()
    first = _ratings(page)
    assert first[winner] > first[loser]
    assert before["n_votes"] + 1 == httpx.get(f"{live_server.url}/api/arena/ratings?voter=human").json()["n_votes"]

    _battle(page, "Say goodbye.")
    expect(page.locator("[data-testid=vote-b]")).to_be_visible(timeout=60_000)
    page.click("[data-testid=vote-b]")
    expect(page.locator("[data-testid=vote-result]")).to_have_text("Vote counted.")
    expect(page.locator("[data-testid=ratings-note]")).to_contain_text("2 counted votes")
    assert _ratings(page) != first
    page.screenshot(path=str(artifacts / "ui-arena.png"), full_page=True)

    _battle(page, "Count to three.")
    expect(page.locator("[data-testid=reveal]")).to_be_visible(timeout=60_000)
    page.click("[data-testid=reveal]")
    expect(page.locator("[data-testid=identity-a]")).not_to_be_empty()
    page.click("[data-testid=vote-a]")
    expect(page.locator("[data-testid=vote-result]")).to_contain_text("not counted")
    assert httpx.get(f"{live_server.url}/api/arena/ratings?voter=human").json()["n_votes"] == 2


def test_arena_judge_disagreement_is_a_tie(page, live_server):
    page.goto(f"{live_server.url}/#arena")
    page.fill("[data-testid=arena-max-tokens]", "6")
    page.select_option("[data-testid=arena-judge]", "fake-judge")   # always answers "1"
    _battle(page, "Which is bigger, 3 or 5?")
    result = page.locator("[data-testid=vote-result]")
    expect(result).to_contain_text("→ tie", timeout=60_000)
    expect(result).to_contain_text("disagree")
    judged = httpx.get(f"{live_server.url}/api/arena/ratings?voter=judge").json()
    assert judged["n_votes"] == 1 and all(r["ties"] == 1 for r in judged["ratings"])


def test_leaderboard_and_catalog_empty_states(page, live_server, artifacts):
    page.goto(f"{live_server.url}/#leaderboard")
    expect(page.locator("[data-testid=no-bakeoffs]")).to_contain_text("No bakeoff runs yet")
    expect(page.locator("[data-testid=no-benchmarks]")).to_contain_text("No benchmark runs yet")
    page.screenshot(path=str(artifacts / "ui-leaderboard.png"), full_page=True)
    page.click("#nav a[data-page=catalog]")
    expect(page.locator("[data-testid=catalog-empty], [data-testid=catalog-card]").first).to_be_visible()


def test_catalog_cards_filter_and_stay_inert(page, live_server, monkeypatch, artifacts):
    from bakeoff import boards

    # Rows in the shape of the catalog's own table (catalog.queries.row), one of them hostile.
    entries = [
        {"id": "tiny-1", "name": "Tiny One", "family": "tiny", "license": "apache-2.0",
         "tasks": ["chat"], "context": 2048, "source": "https://example.org/tiny"},
        {"id": "evil", "name": "<img src=x onerror=\"window.__xss=5\">", "license": "mit",
         "tasks": ["code"], "source": "javascript:window.__xss=6"},
    ]
    monkeypatch.setattr(boards, "catalog_entries", lambda: entries)
    page.goto(f"{live_server.url}/#catalog")
    cards = page.locator("[data-testid=catalog-card]")
    expect(cards).to_have_count(2)
    expect(cards.nth(1)).to_contain_text('<img src=x onerror="window.__xss=5">')
    assert cards.nth(1).locator("a, img").count() == 0           # the javascript: link is text
    assert cards.nth(0).locator("a").get_attribute("href") == "https://example.org/tiny"
    page.select_option("[data-testid=catalog-license]", "apache-2.0")
    expect(cards).to_have_count(1)
    page.select_option("[data-testid=catalog-license]", "")
    page.fill("[data-testid=catalog-filter]", "tiny")
    expect(cards).to_have_count(1)
    expect(cards.first).to_contain_text("Tiny One")
    assert page.evaluate("window.__xss") is None
    page.screenshot(path=str(artifacts / "ui-catalog.png"), full_page=True)
