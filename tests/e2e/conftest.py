"""A real `bakeoff serve` app (create_app + uvicorn on 127.0.0.1, free port) with SmolLM2-135M and
fake models registered through the real registry, and headless Chromium driven by Playwright."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from fake_engine import install  # noqa: E402
from peers import free_port  # noqa: E402

EVIL = '<img src=x onerror="window.__xss=1"> <script>window.__xss=2</script> **bold** done'
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
MODELS = ["smollm2-135m", "fake-echo", "fake-evil", "fake-judge"]


class LiveServer:
    def __init__(self, home: Path, models: list[str]):
        import uvicorn

        from bakeoff.server.app import create_app
        from bakeoff.settings import Settings

        self.settings = Settings(home=home, n_ctx=2048)
        self.app = create_app(self.settings, models)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> LiveServer:
        self.thread.start()
        deadline = time.time() + 30
        while not self.server.started:
            if time.time() > deadline:
                raise RuntimeError("uvicorn did not start within 30 s")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture(scope="module")
def live_server() -> Iterator[LiveServer]:
    # Its own home outside pytest's basetemp: concurrent pytest sessions on one machine prune
    # each other's numbered basetemps, which pulled the store out from under a running server.
    home = Path(tempfile.mkdtemp(prefix="bakeoff-ui-test-"))
    # One llama.cpp thread: on this shared 2-core machine (load ~9) SmolLM2 ran 28-40 tok/s with
    # 1 thread and 0.4-2 tok/s with 2, whose threads wait on each other at every barrier.
    old_threads = os.environ.get("BAKEOFF_THREADS")
    os.environ["BAKEOFF_THREADS"] = "1"
    undo = install({"fake-echo": lambda p: f"echo: {p}", "fake-evil": lambda p: EVIL,
                    "fake-judge": lambda p: "1"})   # always prefers the first answer shown
    server = LiveServer(home, MODELS).start()
    yield server
    server.stop()
    undo()
    shutil.rmtree(home, ignore_errors=True)
    if old_threads is None:
        os.environ.pop("BAKEOFF_THREADS", None)
    else:
        os.environ["BAKEOFF_THREADS"] = old_threads


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.errors = errors
    yield pg
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"
