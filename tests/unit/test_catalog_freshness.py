"""Freshness: every catalog entry and hosted price says when it was checked; stale ones are called
out; `bakeoff catalog check` lists entries by age and verifies source URLs against a loopback server."""

from __future__ import annotations

import datetime as dt
import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from bakeoff import freshness
from bakeoff.catalog import check as C
from bakeoff.catalog import load as L
from bakeoff.evals.report import prices_note, reference_prices
from cli_run import run, run_json


class Sources:
    """Loopback web server: /dead/* answers 404, /nohead/* refuses HEAD (405) but serves GET,
    everything else answers 200. Records (method, path) of each request."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []
        seen = self.seen

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self) -> None:
                seen.append((self.command, self.path))
                code = 404 if self.path.startswith("/dead/") else (
                    405 if self.path.startswith("/nohead/") and self.command == "HEAD" else 200)
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_HEAD = do_GET = _answer

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def sources() -> Iterator[Sources]:
    s = Sources()
    yield s
    s.server.shutdown()


def _loopback_catalog(tmp_path: Path, base: str) -> Path:
    """A copy of the shipped catalog whose every https URL points at the loopback server, with one
    entry's card moved under /dead/ and one licence page under /nohead/."""
    data = tmp_path / "data"
    shutil.copytree(L.DATA_DIR, data)
    for f in data.glob("*.yaml"):
        text = f.read_text().replace("https://", f"{base}/")
        if f.name == "open-science.yaml":
            text = text.replace(f"card: {base}/huggingface.co/allenai/OLMo-1B-hf",
                                f"card: {base}/dead/allenai/OLMo-1B-hf")
        if f.name == "licences.yaml":
            text = text.replace(f"{base}/opensource.org/license/mit", f"{base}/nohead/mit")
        f.write_text(text)
    return data


def test_every_entry_and_price_carries_the_date_it_was_checked() -> None:
    cat = L.catalog()
    assert all(isinstance(e.checked, dt.date) for e in cat.entries.values())
    prices = reference_prices()
    assert prices and all(p["checked"] and isinstance(p["age_days"], int) for p in prices)
    assert {p["model"] for p in prices if not p["verified"]} == {"claude-3-haiku", "gemini-1.5-flash"}
    assert all(p["note"] for p in prices if not p["verified"])


def test_stale_after_six_months() -> None:
    today = dt.date(2026, 11, 30)
    assert not freshness.is_stale("2026-06-01", today) and freshness.is_stale("2026-05-01", today)
    assert freshness.parse_checked("2024-10") == dt.date(2024, 10, 1)
    assert freshness.describe_age(freshness.age_days("2024-10", today)) == "2 years 2 months"
    note = freshness.stale_note("prices", ["2024-10", "2026-11-01"], today)
    assert note and "last checked 2024-10-01" in note and "over 6 months" in note
    assert freshness.stale_note("prices", ["2026-11-01"], today) is None
    with pytest.raises(ValueError):
        freshness.parse_checked("last autumn")


def test_catalog_and_leaderboard_say_prices_are_old(capsys) -> None:
    # The shipped prices were checked in 2024-10: well over six months before any date this runs.
    note = prices_note()
    assert note and "hosted API reference prices last checked 2024-10-01" in note
    assert "not re-read from the provider's page: claude-3-haiku, gemini-1.5-flash" in note
    code, out, _ = run(capsys, "catalog")
    assert code == 0 and "hosted API prices (used for cost comparisons) last checked 2024-10-01" in out


def test_entries_by_age_oldest_first(tmp_path: Path) -> None:
    cat = L.catalog()
    ages = C.entries_by_age(cat, today=dt.date(2027, 6, 1))
    assert [a.checked for a in ages] == sorted(a.checked for a in ages)
    assert ages[0].stale and ages[0].age_days == (dt.date(2027, 6, 1) - ages[0].checked).days


def test_check_reports_dead_sources_on_loopback(tmp_path: Path, sources: Sources) -> None:
    cat = L.load_catalog(_loopback_catalog(tmp_path, sources.url))
    urls = C.cited_urls(cat, hub=f"{sources.url}/huggingface.co")
    assert all(u.startswith(sources.url) for u in urls)
    assert f"{sources.url}/huggingface.co/Qwen/Qwen3-8B-GGUF" in urls     # GGUF availability is checked too
    results = C.check_urls(urls, timeout=10)
    dead = [r for r in results if not r.ok]
    assert [r.url for r in dead] == [f"{sources.url}/dead/allenai/OLMo-1B-hf"]
    assert dead[0].status == 404 and dead[0].cited_by == ["olmo-1b"]
    mit = next(r for r in results if r.url.endswith("/nohead/mit"))
    assert mit.ok and ("HEAD", "/nohead/mit") in sources.seen and ("GET", "/nohead/mit") in sources.seen
    assert len(results) == len(urls) and all(m == "HEAD" for m, p in sources.seen if not p.startswith("/nohead/"))


def test_check_command_online_and_offline(tmp_path: Path, sources: Sources, capsys, monkeypatch) -> None:
    from bakeoff.cli import catalog_card

    cat = L.load_catalog(_loopback_catalog(tmp_path, sources.url))
    monkeypatch.setattr(L, "catalog", lambda: cat)
    monkeypatch.setattr(catalog_card, "PROBE_URL", sources.url + "/")
    monkeypatch.setattr(catalog_card, "HUB_URL", f"{sources.url}/huggingface.co")
    code, out, _ = run(capsys, "catalog", "check")
    assert code == 0
    assert f"dead: {sources.url}/dead/allenai/OLMo-1B-hf (HTTP 404) — cited by olmo-1b" in out
    assert "1 dead" in out and "entries by age of their check" in out
    data = run_json(capsys, "catalog", "check")
    dead = [u["url"] for u in data["urls"] if not u["ok"]]
    assert data["online"] and dead == [f"{sources.url}/dead/allenai/OLMo-1B-hf"]
    assert [e["checked"] for e in data["entries"]] == sorted(e["checked"] for e in data["entries"])
    # No network: one line says so, nothing is fetched.
    monkeypatch.setattr(catalog_card, "PROBE_URL", "http://127.0.0.1:9/")
    before = len(sources.seen)
    code, out, _ = run(capsys, "catalog", "check")
    offline_lines = [line for line in out.splitlines() if line.startswith("offline:")]
    assert code == 0 and len(offline_lines) == 1 and "source URLs not verified" in offline_lines[0]
    assert len(sources.seen) == before
    code, out, _ = run(capsys, "catalog", "check", "--offline")
    assert "offline:" in out and "(--offline)" in out and len(sources.seen) == before
