"""What others control (model file names, endpoint settings, a remote server's model list and error
messages, model outputs) reaches the terminal, CSV exports and reports as inert text."""

from __future__ import annotations

import csv
import io
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bakeoff.cli.main import main  # noqa: E402
from fake_engine import install  # noqa: E402

HOSTILE = "[bold red]evil\x1b]0;pwned\x07\x1b[2J"


class Peer:
    """A loopback server whose GET /v1/models answers `body` with `content_type`."""

    def __init__(self, body: bytes, content_type: str):
        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _endpoint_test(capsys, body: bytes, content_type: str = "application/json") -> tuple[int, str]:
    peer = Peer(body, content_type)
    try:
        assert main(["endpoints", "add", "peer", "--base-url", peer.url, "--model", "wanted"]) == 0
        code = main(["endpoints", "test", "peer"])
    finally:
        peer.close()
    return code, capsys.readouterr().err


def test_remote_model_ids_reach_the_terminal_as_inert_text(capsys):
    body = json.dumps({"data": [{"id": HOSTILE}, {"id": 5}, {"id": {"x": 1}}, "bare"]}).encode()
    code, err = _endpoint_test(capsys, body)
    assert code == 6 and "has no model 'wanted'" in err
    assert "\x1b" not in err and "\x07" not in err
    assert "[bold red]evil\\x1b]0;pwned\\x07" in err            # visible, not executed


@pytest.mark.parametrize("body, content_type, problem", [
    (b"<html><body>Welcome to nginx</body></html>", "text/html", "non-JSON answer from /models (text/html)"),
    (b'{"object": "list", "data": {"id": "m"}}', "application/json", "not an OpenAI model list"),
    (b'["m1", "m2"]', "application/json", "not an OpenAI model list"),
])
def test_a_model_list_that_is_not_openai_shaped_is_a_clear_error(capsys, body, content_type, problem):
    code, err = _endpoint_test(capsys, body, content_type)
    assert code == 6 and problem in err and "unexpected" not in err


def test_tables_show_markup_and_escapes_in_names_as_text(bakeoff_home, smollm2_path, capsys):
    from tinygguf import write_tiny

    write_tiny("llama", bakeoff_home / "models" / f"{HOSTILE}.gguf", smollm2_path)
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "[bold red]evil" in out


def test_a_hand_edited_endpoint_name_with_escapes_is_refused(bakeoff_home, capsys):
    (bakeoff_home / "endpoints.yaml").write_text(json.dumps(
        {"endpoints": {HOSTILE: {"base_url": "http://127.0.0.1:9/v1", "model": "m"}}}))
    assert main(["endpoints", "list"]) != 0
    err = capsys.readouterr().err
    assert "invalid endpoint name" in err and "\x1b" not in err


@pytest.fixture
def formula_run(tmp_path):
    undo = install({"fake-formula": lambda p: '=HYPERLINK("http://evil.example","click")'})
    (tmp_path / "s.yaml").write_text(
        "prompt: hi\ncases:\n  - id: '@SUM(1+1)'\n    assert: [{type: contains, value: x}]\n")
    yield tmp_path / "s.yaml"
    undo()


def _run_no_speed(suite: Path, capsys) -> dict[str, str]:
    assert main(["run", "--suite", str(suite), "--models", "fake-formula", "--no-speed", "--json"]) == 0
    return json.loads(capsys.readouterr().out)["report"]


def test_csv_cells_that_would_run_as_formulas_are_text(formula_run, capsys):
    rows = list(csv.DictReader(io.StringIO(Path(_run_no_speed(formula_run, capsys)["csv"]).read_text())))
    assert rows[0]["output"] == "'=HYPERLINK(\"http://evil.example\",\"click\")"
    assert rows[0]["case_id"] == "'@SUM(1+1)"


def test_the_report_of_a_no_speed_run_claims_no_speed_samples(formula_run, capsys):
    html = Path(_run_no_speed(formula_run, capsys)["html"]).read_text()
    assert "speed not measured" in html and "n=3 repeats" not in html


def test_model_output_on_a_terminal_shows_escapes_piped_output_stays_exact(monkeypatch):
    from bakeoff.cli.ask import stream_to_terminal
    from bakeoff.engines.base import Chunk

    class Terminal(io.StringIO):
        def __init__(self, tty: bool):
            super().__init__()
            self.tty = tty

        def isatty(self) -> bool:
            return self.tty

    for tty, expected in ((True, "hi \\x1b[2J there\n"), (False, "hi \x1b[2J there\n")):
        out = Terminal(tty)
        monkeypatch.setattr(sys, "stdout", out)
        resp = stream_to_terminal(iter([Chunk(text="hi \x1b[2J"), Chunk(text=" there"), Chunk(finish_reason="stop")]))
        assert out.getvalue() == expected and resp.text == "hi \x1b[2J there"


def test_remote_model_ids_cannot_reorder_the_terminals_text(capsys):
    """Probe 5: a bidi override (U+202E) in a remote model id reached the terminal raw, where it
    reverses what follows on the line ("gpt-4o" could be made to read as another name)."""
    body = json.dumps({"data": [{"id": "\u202eo4-tpg"}, {"id": "x\u2066y\u200fz"}]}).encode()
    code, err = _endpoint_test(capsys, body)
    assert code == 6
    assert not any(c in err for c in "\u202e\u2066\u200f"), err
    assert "\\u202e" in err and "\\u2066" in err
