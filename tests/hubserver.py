"""A loopback HTTP server in the Hugging Face Hub's URL layout, for `bakeoff pull` tests.

Serves GET /api/models?search=&filter=&pipeline_tag=&sort=&limit= (the Hub's search, most downloaded
first), GET /api/models/{repo}[/revision/{rev}] (model info with LFS sha256 per file) and
HEAD/GET /{repo}/resolve/{rev}/{file} with Range support; datasets the same way under
/api/datasets/{repo} and /datasets/{repo}/resolve/{rev}/{file}. `meta` gives a repo's downloads, likes,
licence and pipeline tag; a repo with a .gguf file is tagged `gguf`, as on the Hub.
`stall_after` makes the first full GET of a file send that many bytes and then wait until `release`
is set, like a dropped connection.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

COMMIT = "0" * 40


class Hub:
    def __init__(self, repos: dict[str, dict[str, Path]], stall_after: int | None = None,
                 sha_override: str | None = None, meta: dict[str, dict[str, Any]] | None = None,
                 datasets: dict[str, dict[str, Path]] | None = None):
        self.repos = repos
        self.meta = meta or {}
        self.datasets = datasets or {}
        self.sha_override = sha_override
        self.stall_after = stall_after
        self.release = threading.Event()
        self.stalled = threading.Event()
        self.requests: list[dict[str, Any]] = []
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_HEAD(self) -> None:
                hub.handle(self, body=False)

            def do_GET(self) -> None:
                hub.handle(self, body=True)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.handle_error = lambda *a: None   # clients killed mid-transfer are the point
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Hub:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    def _info(self, h: BaseHTTPRequestHandler, repo: str, kind: str = "models") -> None:
        files = (self.datasets if kind == "datasets" else self.repos)[repo]
        siblings = [{"rfilename": name, "size": p.stat().st_size,
                     "lfs": {"sha256": self.sha_override or hashlib.sha256(p.read_bytes()).hexdigest(),
                             "size": p.stat().st_size, "pointerSize": 134}}
                    for name, p in files.items()]
        body = json.dumps({"id": repo, "modelId": repo, "sha": COMMIT, "siblings": siblings}).encode()
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    def _listing(self, repo: str) -> dict[str, Any]:
        meta = self.meta.get(repo, {})
        tags = list(meta.get("tags", []))
        if any(name.endswith(".gguf") for name in self.repos[repo]):
            tags.append("gguf")
        if meta.get("license"):
            tags.append(f"license:{meta['license']}")
        return {"id": repo, "modelId": repo, "downloads": meta.get("downloads", 0),
                "likes": meta.get("likes", 0), "tags": tags, "pipeline_tag": meta.get("pipeline_tag")}

    def _search(self, h: BaseHTTPRequestHandler, query: dict[str, list[str]]) -> None:
        words = (query.get("search") or [""])[0].lower()
        wanted = set(query.get("filter", []))
        task = (query.get("pipeline_tag") or [None])[0]
        rows = [self._listing(r) for r in self.repos if words in r.lower()]
        rows = [r for r in rows if wanted <= set(r["tags"]) and (task is None or r["pipeline_tag"] == task)]
        rows.sort(key=lambda r: -r["downloads"])
        limit = int((query.get("limit") or [len(rows)])[0])
        body = json.dumps(rows[:limit]).encode()
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    def handle(self, h: BaseHTTPRequestHandler, body: bool) -> None:
        path, _, qs = h.path.partition("?")
        self.requests.append({"method": h.command, "path": path, "range": h.headers.get("Range")})
        if path == "/api/models":
            return self._search(h, parse_qs(qs))
        m = re.fullmatch(r"/api/(models|datasets)/([^/]+/[^/]+)(?:/revision/[^/]+)?", path)
        if m and m.group(2) in (self.datasets if m.group(1) == "datasets" else self.repos):
            return self._info(h, m.group(2), m.group(1))
        m = re.fullmatch(r"/(datasets/)?([^/]+/[^/]+)/resolve/[^/]+/(.+)", path)
        repos = self.datasets if m and m.group(1) else self.repos
        if not m or m.group(2) not in repos or m.group(3) not in repos[m.group(2)]:
            h.send_response(404)
            h.send_header("X-Error-Code", "RepoNotFound" if not m or m.group(2) not in repos else "EntryNotFound")
            h.send_header("Content-Length", "0")
            h.end_headers()
            return
        self._file(h, repos[m.group(2)][m.group(3)], body)

    def _file(self, h: BaseHTTPRequestHandler, p: Path, body: bool) -> None:
        data = p.read_bytes()
        start = 0
        rng = h.headers.get("Range")
        if rng and (r := re.fullmatch(r"bytes=(\d+)-(\d*)", rng)):
            start = int(r.group(1))
        h.send_response(206 if start else 200)
        h.send_header("X-Repo-Commit", COMMIT)
        h.send_header("ETag", f'"{hashlib.sha256(data).hexdigest()}"')
        h.send_header("Content-Length", str(len(data) - start))
        if start:
            h.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        h.end_headers()
        if not body:
            return
        if self.stall_after is not None and not start and not self.release.is_set():
            h.wfile.write(data[: self.stall_after])
            h.wfile.flush()
            self.stalled.set()
            self.release.wait(60)
            h.close_connection = True
            return
        h.wfile.write(data[start:])
