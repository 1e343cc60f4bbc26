"""UI API rules that need no browser: votes after a reveal do not count, the blind view names no
model, bad input gets a one-line error with a hint, exports, presets, and the arena CLI."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bakeoff.cli.main import main  # noqa: E402
from bakeoff.server.app import create_app  # noqa: E402
from bakeoff.settings import get_settings  # noqa: E402
from fake_engine import install  # noqa: E402


@pytest.fixture
def client():
    undo = install({"fake-a": lambda p: "alpha answer", "fake-b": lambda p: "beta answer"})
    app = create_app(get_settings(), ["fake-a", "fake-b"])
    with TestClient(app, base_url="http://127.0.0.1") as c:
        yield c
    undo()


def _events(resp) -> list[dict]:
    return [json.loads(line) for line in resp.text.splitlines() if line.strip()]


def _battle(client) -> dict:
    b = client.post("/api/arena/battles", json={"prompt": "hi"}).json()
    for side in "ab":
        assert _events(client.post(f"/api/arena/battles/{b['id']}/answer/{side}"))[-1]["type"] == "done"
    return b


def test_blind_until_vote_and_only_the_first_vote_counts(client):
    b = _battle(client)
    again = client.post(f"/api/arena/battles/{b['id']}/answer/a")
    assert again.status_code == 400 and "already written" in again.json()["error"]["message"]
    blind = client.get(f"/api/arena/battles/{b['id']}").text
    assert "fake-a" not in blind and "fake-b" not in blind
    assert {json.loads(blind)["answers"][s] for s in "ab"} == {"alpha answer", "beta answer"}
    first = client.post(f"/api/arena/battles/{b['id']}/vote", json={"winner": "a"}).json()
    assert first["vote"]["counted"] is True and set(first["models"].values()) == {"fake-a", "fake-b"}
    again = client.post(f"/api/arena/battles/{b['id']}/vote", json={"winner": "b"}).json()
    assert again["vote"]["counted"] is False
    ratings = client.get("/api/arena/ratings").json()
    assert ratings["n_votes"] == 1 and ratings["votes"] == 2
    assert ratings["ratings"][0]["model"] == first["models"]["a"]


def test_vote_after_reveal_does_not_count(client):
    b = _battle(client)
    shown = client.post(f"/api/arena/battles/{b['id']}/reveal").json()
    assert shown["revealed"] is True
    assert client.post(f"/api/arena/battles/{b['id']}/vote", json={"winner": "tie"}).json()["vote"]["counted"] is False
    assert client.get("/api/arena/ratings").json()["ratings"] == []


def test_bad_input_gets_message_and_hint(client):
    r = client.post("/api/conversations", json={"model": "fake-c"})
    assert r.status_code == 404 and "fake-a" in r.json()["error"]["hint"]
    r = client.post("/api/conversations", json={"model": "fake-a", "params": {"temprature": 1}})
    assert r.status_code == 400 and "temperature" in r.json()["error"]["hint"]
    assert client.get("/api/conversations/404").status_code == 404
    conv = client.post("/api/conversations", json={"model": "fake-a"}).json()
    r = client.post(f"/api/conversations/{conv['id']}/regenerate", json={})
    assert r.status_code == 400 and r.json()["error"]["hint"] == "send a message first"
    assert client.get(f"/api/conversations/{conv['id']}/export?format=pdf").status_code == 400


def test_conversation_survives_a_restart_and_exports(client):
    conv = client.post("/api/conversations", json={"model": "fake-a", "system": "be brief"}).json()
    done = _events(client.post(f"/api/conversations/{conv['id']}/messages", json={"content": "q1"}))[-1]
    assert done["message"]["model"] == "fake-a" and done["message"]["content"] == "alpha answer"
    _events(client.post(f"/api/conversations/{conv['id']}/messages", json={"content": "q2", "model": "fake-b"}))
    fresh_app = create_app(get_settings(), ["fake-a", "fake-b"])   # a new server
    with TestClient(fresh_app, base_url="http://127.0.0.1") as fresh:
        got = fresh.get(f"/api/conversations/{conv['id']}").json()
    assert [(m["role"], m["model"]) for m in got["messages"]] == [
        ("user", None), ("assistant", "fake-a"), ("user", None), ("assistant", "fake-b")]
    assert got["title"] == "q1" and got["model"] == "fake-b"
    md = client.get(f"/api/conversations/{conv['id']}/export?format=md").text
    assert "## System\n\nbe brief" in md and "## Assistant (fake-b)\n\nbeta answer" in md


def test_presets_round_trip(client):
    client.post("/api/presets", json={"name": "terse", "system": "one line", "params": {"max_tokens": 20}})
    client.post("/api/presets", json={"name": "terse", "system": "two lines", "params": {}})
    presets = client.get("/api/presets").json()
    assert [(p["name"], p["system"]) for p in presets] == [("terse", "two lines")]
    assert client.post("/api/presets", json={"name": "x", "params": {"top_p": 0}}).status_code == 400


def test_arena_ratings_cli(client, capsys):
    b = _battle(client)
    winner = client.post(f"/api/arena/battles/{b['id']}/vote", json={"winner": "b"}).json()["models"]["b"]
    assert main(["arena", "ratings", "--json"]) == 0
    table = json.loads(capsys.readouterr().out)
    assert table["ratings"][0]["model"] == winner and table["n_votes"] == 1
    assert main(["arena", "ratings"]) == 0
    assert winner in capsys.readouterr().out


def test_judge_counts_agreement_as_a_win_and_position_bias_as_a_tie():
    from bakeoff.arena.battles import judge
    from bakeoff.engines import open_engine
    from bakeoff.models.registry import resolve

    def prefers_alpha(prompt: str) -> str:
        first = prompt.split("[Answer 1]")[1].split("[End of answer 1]")[0]
        return "1" if "alpha" in first else "2"

    undo = install({"judge-fair": prefers_alpha, "judge-first": lambda p: "Answer 1 is better."})
    try:
        fair, first = (open_engine(resolve(n)) for n in ("judge-fair", "judge-first"))
        assert judge(fair, "q", "beta", "alpha")[0] == "b"
        winner, detail = judge(first, "q", "beta", "alpha")
        assert winner == "tie" and (detail["a_first"]["verdict"], detail["b_first"]["verdict"]) == ("a", "b")
    finally:
        undo()


def test_arena_auto_cli_stores_judge_votes(tmp_path, capsys):
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("first prompt\n\nsecond prompt\n")
    # The judge prefers whichever answer says "alpha", in both orders: fake-a always wins.
    undo = install({"fake-a": lambda p: "alpha", "fake-b": lambda p: "beta",
                    "judge-alpha": lambda p: "1" if "alpha" in p.split("[Answer 1]")[1].split("[End")[0] else "2"})
    try:
        assert main(["arena", "auto", str(prompts), "--judge", "judge-alpha", "--models", "fake-a,fake-b",
                     "--rounds", "2", "--seed", "3"]) == 0
        lines = capsys.readouterr().out.strip().splitlines()
        assert len(lines) == 4
        assert main(["arena", "ratings", "--voter", "judge", "--json"]) == 0
        table = json.loads(capsys.readouterr().out)
        assert table["n_votes"] == 4
        assert [(r["model"], r["wins"]) for r in table["ratings"]] == [("fake-a", 4), ("fake-b", 0)]
        assert main(["arena", "auto", str(prompts), "--judge", "judge-alpha", "--models", "fake-a"]) == 2
        assert "at least two models" in capsys.readouterr().err
    finally:
        undo()


@pytest.mark.parametrize("headers", [
    {"Origin": "http://evil.example"},                          # a form or no-cors fetch elsewhere
    {"Origin": "http://127.0.0.1:3000"},                        # another local app, another port
    {"Origin": "null"},                                         # a sandboxed iframe or file:// page
    {"Sec-Fetch-Site": "cross-site"},
    {"Sec-Fetch-Site": "same-site", "Origin": "http://127.0.0.1"},
])
def test_state_changing_requests_from_other_sites_are_refused(client, headers):
    b = client.post("/api/arena/battles", json={"prompt": "hi"}).json()
    forged = {**headers, "Content-Type": "text/plain"}
    r = client.post(f"/api/arena/battles/{b['id']}/reveal", headers=forged)
    assert r.status_code == 403 and r.json()["error"]["code"] == "cross_site_request"
    assert client.post(f"/api/arena/battles/{b['id']}/answer/a", headers=forged).status_code == 403
    assert client.delete("/api/conversations/1", headers=forged).status_code == 403
    r = client.post("/v1/chat/completions", headers=forged,
                    content=b'{"model": "fake-a", "messages": [{"role": "user", "content": "hi"}]}')
    assert r.status_code == 403
    battle = client.get(f"/api/arena/battles/{b['id']}").json()
    assert battle["answers"]["a"] is None and not battle.get("revealed")
    # the UI itself (same origin) and clients that are not browsers still work; reads are not refused
    same = {"Origin": "http://127.0.0.1", "Sec-Fetch-Site": "same-origin"}
    assert client.post(f"/api/arena/battles/{b['id']}/reveal", headers=same).json()["revealed"] is True
    assert client.get("/api/arena/ratings", headers=headers).status_code == 200
