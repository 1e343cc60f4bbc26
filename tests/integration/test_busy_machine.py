"""On a busy machine llama.cpp gets the cores other processes leave free, with the same answers."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from bakeoff.engines import LoadOptions, open_engine
from bakeoff.engines.base import GenParams, collect
from bakeoff.engines.threads import usable_cores
from bakeoff.models.ref import ModelRef
from bakeoff.settings import reset_settings

HOG = "import time\nend = time.time() + 60\nwhile time.time() < end:\n    pass\n"
PROMPT = "Write a short story about a lighthouse keeper."


def generate(ref: ModelRef, *, wait: bool = False):
    engine = open_engine(ref, LoadOptions(n_ctx=512, threads=2, speculative=False))
    try:
        if wait:  # the governor judges the machine over at least one interval before changing
            time.sleep(engine.h.governor.interval)
        return collect(engine.complete(PROMPT, GenParams(max_tokens=32, temperature=0)))
    finally:
        engine.close()


@pytest.mark.skipif(usable_cores() < 2, reason="needs two cores")
def test_busy_cores_cost_threads_not_answers(smollm2_path, monkeypatch) -> None:
    ref = ModelRef(name="smol", engine="llamacpp", source="test", path=str(smollm2_path))
    monkeypatch.setenv("BAKEOFF_ADAPTIVE_THREADS", "false")
    reset_settings()
    fixed = generate(ref)
    assert fixed.timings.threads == 2

    monkeypatch.setenv("BAKEOFF_ADAPTIVE_THREADS", "true")
    reset_settings()
    # Busy loops on every core but one: the rest of the machine leaves one core free.
    hogs = [subprocess.Popen([sys.executable, "-c", HOG]) for _ in range(usable_cores() - 1)]
    try:
        busy = generate(ref, wait=True)
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
    assert busy.timings.threads == 1
    assert busy.text == fixed.text and busy.usage.completion_tokens == fixed.usage.completion_tokens
