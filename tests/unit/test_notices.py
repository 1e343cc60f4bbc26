"""Slow one-time work is announced: a plain line on the CLI's stderr, a log line under `serve`."""

from __future__ import annotations

import logging
import re

import pytest
import uvicorn

from bakeoff import notices
from bakeoff.engines import calibrate
from bakeoff.models.machine import load_profile, profile_path
from cli_run import run

LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ INFO bakeoff\.notice: measuring X\\x1b\[2J$")


@pytest.fixture(autouse=True)
def quiet_afterwards():
    yield
    notices.show(logging.NullHandler())   # later tests' notices go nowhere until a CLI run says


def test_the_cli_prints_a_calibration_notice_as_one_plain_line(capsys, monkeypatch):
    fixed = load_profile()
    profile_path().unlink()                             # no profile: recommend calibrates first
    monkeypatch.setattr(calibrate, "calibrate", lambda settings=None: fixed)
    code, out, err = run(capsys, "recommend", "--task", "chat", "--json")
    assert code == 0, err
    assert "calibrating the speed model on this machine (once, a few seconds)…\n" in err
    assert "calibrating" not in out                     # stdout stays parseable JSON
    code, _, err = run(capsys, "recommend", "--task", "chat", "--json")
    assert code == 0 and "calibrating" not in err       # cached: announced once


def test_serve_logs_notices_with_time_and_level_instead_of_printing_them(capsys, monkeypatch):
    def serving(app, **kwargs):      # what a request that measures something does while serving
        assert kwargs["host"] == "127.0.0.1"
        notices.notice("measuring X\x1b[2J")

    monkeypatch.setattr(uvicorn, "run", serving)
    code, _, err = run(capsys, "serve", "--port", "0", "--models", "smollm2-135m")
    assert code == 0, err
    lines = [line for line in err.splitlines() if "measuring" in line]
    assert len(lines) == 1 and LOG_LINE.match(lines[0]), err   # control characters made visible


def test_a_surface_replaces_where_notices_go_rather_than_adding_a_second_place(capsys):
    seen: list[str] = []
    notices.to_log()
    notices.to_lines(seen.append)
    notices.notice("once")
    assert seen == ["once"] and "once" not in capsys.readouterr().err
