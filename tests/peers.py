"""Real peers on loopback for tests: llama-cpp-python's own server and a fault-injecting proxy."""

from __future__ import annotations

import http.server
import os
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float = 90.0, proc: subprocess.Popen | None = None) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise TimeoutError(f"{url} did not answer in {timeout} s")


def start_llama_cpp_server(model: Path, port: int, log: Path) -> subprocess.Popen:
    """`python -m llama_cpp.server` with prompt logprobs enabled (logits_all)."""
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host", "127.0.0.1",
           "--port", str(port), "--n_ctx", "2048", "--logits_all", "true", "--n_threads", "2",
           "--model_alias", "smol", "--interrupt_requests", "false"]
    proc = subprocess.Popen(cmd, stdout=log.open("w"), stderr=subprocess.STDOUT, env={**os.environ})
    wait_http(f"http://127.0.0.1:{port}/v1/models", proc=proc)
    return proc


class FaultProxy:
    """Forwards HTTP to `upstream`, but answers requests with scripted faults first.

    faults: a list of "401", "429", "500", "drop" (close without answering), "stall" (hold the request
    longer than the client waits), "cut" (forward, then close mid-stream) or "pass".
    """

    def __init__(self, upstream: str, faults: list[str] | None = None, stall_s: float = 5.0):
        self.upstream = upstream.rstrip("/")
        self.faults: deque[str] = deque(faults or [])
        self.stall_s = stall_s
        self.seen: list[str] = []
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):
                proxy.handle(self)

            def do_POST(self):
                proxy.handle(self)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def handle(self, h: http.server.BaseHTTPRequestHandler) -> None:
        body = h.rfile.read(int(h.headers.get("content-length") or 0))
        fault = self.faults.popleft() if self.faults else "pass"
        self.seen.append(fault)
        if fault in ("401", "429", "500"):
            msg = b'{"error": {"message": "injected ' + fault.encode() + b'"}}'
            h.send_response(int(fault))
            if fault == "429":
                h.send_header("Retry-After", "0.2")
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(msg)))
            h.end_headers()
            h.wfile.write(msg)
            return
        if fault == "drop":
            h.close_connection = True
            h.connection.shutdown(socket.SHUT_RDWR)
            return
        if fault == "stall":
            time.sleep(self.stall_s)
            h.close_connection = True
            return
        self.forward(h, body, cut=fault == "cut")

    def forward(self, h, body: bytes, cut: bool) -> None:
        headers = {k: v for k, v in h.headers.items() if k.lower() not in ("host", "content-length")}
        with httpx.Client(timeout=120) as c:
            with c.stream(h.command, self.upstream + h.path, content=body, headers=headers) as r:
                h.send_response(r.status_code)
                for k, v in r.headers.items():
                    if k.lower() not in ("content-length", "transfer-encoding", "connection"):
                        h.send_header(k, v)
                h.send_header("Connection", "close")
                h.end_headers()
                sent = 0
                for chunk in r.iter_raw():
                    h.wfile.write(chunk)
                    h.wfile.flush()
                    sent += 1
                    if cut and sent >= 3:
                        break
        h.close_connection = True

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
