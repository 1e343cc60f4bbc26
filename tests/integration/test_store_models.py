"""A real model pulled by another tool (SmolLM2 in Ollama's store, with Ollama's manifest and blob
naming) is usable by name in every surface: ask, show, the OpenAI server and the UI's picker."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import stores
from bakeoff.server.app import create_app
from bakeoff.settings import get_settings
from cli_run import run, run_json

NAME = "ollama:smollm2:135m"


@pytest.fixture
def in_ollama(smollm2_path: Path) -> Path:
    home = Path(os.environ["BAKEOFF_USER_HOME"])
    return stores.ollama(home, "smollm2", "135m", smollm2_path.read_bytes(),
                         params={"temperature": 0.2, "stop": ["<|im_end|>"]})


def test_ask_and_show_by_the_ollama_name(in_ollama, capsys):
    out = run_json(capsys, "ask", NAME, "Say hello.", "--max-tokens", "4", "--temperature", "0")
    assert out["model"] == NAME and out["usage"]["completion_tokens"] >= 1
    shown = run_json(capsys, "show", "smollm2:135m")
    assert shown["model"]["name"] == NAME and shown["model"]["path"] == str(in_ollama)
    assert shown["origin"]["params"]["stop"] == ["<|im_end|>"]
    # It is the packaged SmolLM2's file: listed once, under both names.
    rows = [r for r in run_json(capsys, "models") if NAME in (r["name"], *r["aliases"])]
    assert len(rows) == 1 and rows[0]["sources"] == ["packaged", "ollama"]


def test_served_and_offered_in_the_ui_picker(in_ollama):
    app = create_app(get_settings(), [NAME])
    with TestClient(app, base_url="http://127.0.0.1") as client:
        ids = [m["id"] for m in client.get("/v1/models").json()["data"]]
        assert ids == [NAME]
        picker = client.get("/api/models").json()
        assert [m["name"] for m in picker] == [NAME] and picker[0]["sources"] == ["ollama"]
        resp = client.post("/v1/chat/completions", json={
            "model": NAME, "max_tokens": 3, "temperature": 0,
            "messages": [{"role": "user", "content": "Hi"}]})
        assert resp.status_code == 200, resp.text
        assert resp.json()["model"] == NAME


def test_a_blob_removed_after_listing_fails_cleanly(in_ollama, capsys):
    run_json(capsys, "models")
    in_ollama.unlink()
    code, _, err = run(capsys, "ask", NAME, "hi", "--max-tokens", "2")
    assert code == 4 and "gone" in err and "Traceback" not in err
