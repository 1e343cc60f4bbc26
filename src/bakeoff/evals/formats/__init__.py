"""Suite readers: Bakeoff's own YAML (evals.suite), promptfoo configs, and cases from datasets.

`load(name_or_path)` picks the reader from the file: a promptfoo config (promptfooconfig.yaml,
or a mapping with promptfoo's `prompts`/`providers`/`tests` and no `cases`) goes to the promptfoo
reader; everything else is a Bakeoff suite.
"""

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
