"""The versioned JSON caches in BAKEOFF_HOME: a damaged or old file reads as absent (the caller
measures again), and a write never leaves half a file."""

from __future__ import annotations

import json
import os

import pytest

from bakeoff import atomic
from bakeoff.cachefile import VersionedJSON
from bakeoff.engines import verify_cost
from bakeoff.engines.verify_cost import VerifyCost, cached, save
from bakeoff.models.machine import load_profile, profile_path
from bakeoff.settings import get_settings


def test_a_body_round_trips_under_its_version_in_a_folder_made_for_it(tmp_path):
    cache = VersionedJSON(tmp_path / "sub" / "cache.json", 3)
    assert cache.read() is None                       # missing: absent, no error
    cache.write({"entries": {"a": 1}})
    assert cache.read() == {"entries": {"a": 1}}
    assert json.loads(cache.path.read_text())["version"] == 3
    with pytest.raises(ValueError, match="version"):
        cache.write({"version": 9})


@pytest.mark.parametrize("content", [
    b"{not json", b"", b"\xff\xfe binary", b"[1, 2]", b'"text"', b"null",
    b"[" * 100_000,                                   # deeper than Python's parser recurses
    b'{"entries": {}}',                               # no version: written before versions
    b'{"version": 2, "entries": {}}',                 # an older format
    b'{"version": "3", "entries": {}}',
])
def test_a_damaged_or_other_version_file_reads_as_absent(tmp_path, content):
    path = tmp_path / "cache.json"
    path.write_bytes(content)
    assert VersionedJSON(path, 3).read() is None


def test_an_unreadable_path_reads_as_absent(tmp_path):
    assert VersionedJSON(tmp_path, 1).read() is None  # a folder where the file should be


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    cache = VersionedJSON(tmp_path / "cache.json", 1)
    cache.write({"entries": {"old": 1}})

    def crash(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(atomic.os, "replace", crash)  # the kill lands between write and rename
    with pytest.raises(OSError):
        cache.write({"entries": {"new": 2}})
    monkeypatch.undo()
    assert cache.read() == {"entries": {"old": 1}}
    assert os.listdir(tmp_path) == ["cache.json"]


def test_verify_costs_ignore_an_old_version_and_survive_a_read_only_home(monkeypatch):
    save(VerifyCost({1: 0.01}, key="k", exact=8))
    path = get_settings().home / "calibration" / "verify-cost.json"
    doc = json.loads(path.read_text())
    assert doc["version"] == verify_cost.CACHE_VERSION and doc["entries"]["k"]["exact"] == 8
    path.write_text(json.dumps({**doc, "version": 2}))   # exactness not kept per region then
    assert cached("k") is None                        # measured again, not misread

    def refuse(*a, **k):
        raise PermissionError("read-only")

    monkeypatch.setattr(VersionedJSON, "write", refuse)
    save(VerifyCost({1: 0.01}, key="k"))              # best effort: no error


def test_the_machine_profile_is_measured_again_when_its_file_is_damaged_or_old():
    path = profile_path()
    doc = json.loads(path.read_text())                # the fixed profile conftest saved
    assert load_profile() is not None and doc["version"] == doc["identity"]["profile_version"]
    path.write_text(json.dumps({**doc, "version": doc["version"] - 1}))
    assert load_profile() is None
    path.write_text(json.dumps({**doc, "calibration": [{"model": "x"}]}))   # fields of another shape
    assert load_profile() is None
    path.write_text(json.dumps({k: v for k, v in doc.items() if k != "version"}))
    assert load_profile() is None
    path.write_text(json.dumps(doc))
    assert load_profile() is not None
