"""`load(name_or_path)`: a suite from whichever format its file is in (see the package docstring)."""

from __future__ import annotations

from pathlib import Path

from ..suite import Suite, find_suite, read_suite_file, suite_from_yaml
from .promptfoo import load_promptfoo, looks_like_promptfoo

__all__ = ["load"]


def load(name_or_path: str | Path) -> Suite:
    path = find_suite(str(name_or_path))
    data, locs = read_suite_file(path)
    if looks_like_promptfoo(path, data):
        return load_promptfoo(path, data, locs)
    return suite_from_yaml(path, data, locs)
