"""An OpenAI-compatible endpoint that answers with JSON that decodes to something other than text
(a lone UTF-16 surrogate, "\\ud800") is graded like any answer: the surrogate becomes U+FFFD.
Before, the answer reached SQLite as a str that UTF-8 cannot encode, and the whole model failed
with UnicodeEncodeError."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator

import pytest

from bakeoff import jsontext
from cli_run import run, run_json

ANSWER = '"ok \\ud800 done \\ud83d\\ude00"'   # a lone surrogate, then a valid pair (an emoji)


class _Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass

    def _send(self, body: bytes, ctype: str = "application/json") -> None:
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self._send(b'{"data": [{"id": "m"}, {"id": "\\ud800"}]}')

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        usage = '"usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}'
        if not body.get("stream"):
            self._send(('{"choices": [{"index": 0, "message": {"role": "assistant", "content": '
                        + ANSWER + '}, "finish_reason": "stop"}], ' + usage + '}').encode())
            return
        events = ('data: {"choices": [{"index": 0, "delta": {"content": ' + ANSWER
                  + '}, "finish_reason": null}]}\n\n'
                  'data: {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}], ' + usage
                  + '}\n\ndata: [DONE]\n\n')
        self._send(events.encode(), "text/event-stream")


@pytest.fixture
def endpoint() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def test_json_strings_from_others_are_text() -> None:
    value = jsontext.loads('{"a\\ud800": ["x\\udfff", {"b": "\\ud83d\\ude00"}], "c": "\\\\ud800"}')
    assert value == {"a\ufffd": ["x\ufffd", {"b": "\U0001F600"}], "c": "\\ud800"}
    json.dumps(value).encode("utf-8")   # encodable


def test_an_answer_with_a_lone_surrogate_is_graded(bakeoff_home, endpoint, tmp_path, capsys) -> None:
    code, out, err = run(capsys, "endpoints", "add", "odd", "--base-url", endpoint, "--model", "m")
    assert code == 0, err
    suite = tmp_path / "s.yaml"
    suite.write_text("cases:\n  - {id: c1, prompt: hi, assert: [{type: contains, value: done}]}\n")
    report = run_json(capsys, "run", "--suite", str(suite), "--models", "odd", "--no-speed")
    text = json.dumps(report)
    assert "UnicodeEncodeError" not in text
    row = next(r for r in report["leaderboard"] if r["model"] == "odd")
    assert row["pass_rate"] == {"value": 1.0, "se": 0.0, "n": 1}, row
