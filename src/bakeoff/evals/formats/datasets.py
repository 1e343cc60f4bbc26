"""Cases from a dataset: a local Parquet, Arrow, JSONL or CSV file, or hf://datasets/OWNER/NAME.

```yaml
prompt: "Q: {{question}}\\nA:"
cases:
  from: hf://datasets/openai/gsm8k   # or data/questions.parquet (relative to the suite)
  subset: main                        # the dataset's config name, when it has several
  split: test
  vars: {question: question}          # var -> column (default: every column, under its own name)
  expected: answer                    # column -> the var `expected`
  id: qid                             # column naming each case (default: ROW-N)
  sample: 50                          # a seeded random sample of the rows (kept in file order)
  seed: 0
  limit: 20                           # then at most this many
```

Hub datasets are read from the local Hugging Face cache first (HF_HOME / HF_HUB_CACHE); only a
dataset that is not there is fetched, and offline that is a clear error that says how to get it.
Rows are read with pyarrow; the split's files come from the dataset card's `configs:` section when
it has one, else from the usual layout (`[SUBSET/]...SPLIT-00000-of-00001.parquet`, `SPLIT.jsonl`).
"""

from __future__ import annotations

import fnmatch
import json
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ... import jsontext
from ...errors import SuiteError
from ..cases import csv_reader, parse_yaml
from .hub_files import FilesNotCachedError, dataset_paths

DATA_SUFFIXES = (".parquet", ".arrow", ".jsonl", ".csv", ".json")
MAX_COLUMNS = 4096


class DatasetError(ValueError):
    """A dataset that cannot be read as asked; the suite reader adds file and line."""


@dataclass
class Table:
    name: str                    # what the user wrote, for messages
    columns: list[str]
    rows: list[dict[str, Any]]


def read_dataset(source: str, base_dir: Path, subset: str | None = None, split: str | None = None,
                 revision: str | None = None) -> Table:
    if source.startswith("hf://"):
        m = re.fullmatch(r"hf://datasets/([^/@]+/[^/@]+)(?:@([^/]+))?/?", source)
        if not m:
            raise DatasetError(f"{source!r} is not hf://datasets/OWNER/NAME")
        repo = m.group(1)
        paths = dataset_paths(repo, m.group(2) or revision,
                              lambda files, card: split_files(files, subset, split, card, repo))
        return read_files(paths, source)
    path = base_dir / source
    if path.exists() and not path.is_file():
        raise DatasetError(f"dataset file {source!r} is not a regular file (a folder, pipe or device): "
                           "name a Parquet, Arrow, JSONL or CSV file")
    if not path.is_file():
        raise DatasetError(f"dataset file {source!r} not found (paths are relative to {base_dir})")
    return read_files([path], source)


# --- which files hold the split --------------------------------------------------------------

def _card_configs(card: Path) -> list[dict[str, Any]]:
    """The `configs:` list in a dataset card's YAML front matter (empty when there is none)."""
    text = card.read_text(errors="replace")
    m = re.match(r"^---\s*\n(.*?)\n---\s*(\n|$)", text, re.DOTALL)
    if not m:
        return []
    try:
        meta = parse_yaml(m.group(1), str(card))[0] or {}
    except SuiteError:   # not YAML, or an alias bomb: no configs read from this card
        return []
    configs = meta.get("configs") if isinstance(meta, dict) else None
    return [c for c in configs or [] if isinstance(c, dict)]


def _card_patterns(configs: list[dict[str, Any]], subset: str | None, repo: str) -> dict[str, list[str]]:
    """{split: [glob patterns]} for the chosen config of a dataset card."""
    names = [str(c.get("config_name", "default")) for c in configs]
    if subset is None:
        pick = next((c for c in configs if c.get("default")), configs[0] if len(configs) == 1 else None)
        if pick is None:
            raise DatasetError(f"{repo} has several subsets: {', '.join(names)} — set `subset:`")
    else:
        pick = next((c for c, n in zip(configs, names) if n == subset), None)
        if pick is None:
            raise DatasetError(f"{repo} has no subset {subset!r}; it has: {', '.join(names)}")
    files = pick.get("data_files")
    if isinstance(files, (str, list)) and not (isinstance(files, list) and files and isinstance(files[0], dict)):
        return {"train": [files] if isinstance(files, str) else list(files)}
    out: dict[str, list[str]] = {}
    for entry in files or []:
        paths = entry.get("path")
        out.setdefault(str(entry.get("split", "train")), []).extend([paths] if isinstance(paths, str) else paths or [])
    return out


def _layout_splits(files: list[str], subset: str | None) -> dict[str, list[str]]:
    """{split: files} from the usual file names when the card declares nothing."""
    data = [f for f in files if f.endswith(DATA_SUFFIXES) and not Path(f).name.startswith(".")]
    if subset is not None:
        data = [f for f in data if subset in Path(f).parts[:-1]]
    out: dict[str, list[str]] = {}
    for f in data:
        m = re.match(r"([A-Za-z][A-Za-z0-9_]*?)(?:[-_.]\d{5}-of-\d{5})?(?:[-.].*)?$", Path(f).stem)
        name = m.group(1) if m else Path(f).stem
        out.setdefault(name, []).append(f)
    return out


def split_files(files: list[str], subset: str | None, split: str | None, card: Path | None,
                repo: str) -> list[str]:
    configs = _card_configs(card) if card else []
    if configs:
        patterns = _card_patterns(configs, subset, repo)
        splits = {s: sorted({f for f in files for p in ps if fnmatch.fnmatch(f, p)}) for s, ps in patterns.items()}
    else:
        splits = _layout_splits(files, subset)
        if subset is not None and not splits:
            raise DatasetError(f"{repo} has no subset {subset!r} (no data files under {subset}/)")
    declared = bool(configs)  # a card's splits exist even when this copy lacks their files
    splits = {s: fs for s, fs in splits.items() if fs or declared}
    if not splits:
        raise DatasetError(f"{repo} has no data files Bakeoff reads ({', '.join(DATA_SUFFIXES)})")
    if split is None:
        if len(splits) > 1:
            raise DatasetError(f"{repo} has several splits: {', '.join(sorted(splits))} — set `split:`")
        split = next(iter(splits))
    if split not in splits:
        raise DatasetError(f"{repo} has no split {split!r}; it has: {', '.join(sorted(splits))}")
    if not splits[split]:
        raise FilesNotCachedError(f"{repo}: no files for split {split!r}")
    return splits[split]


# --- reading rows ------------------------------------------------------------------------------

def _read_table(path: Path) -> Any:
    import pyarrow as pa
    import pyarrow.json as pjson
    import pyarrow.parquet as pq

    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return pq.read_table(path)
    if suffix == ".arrow":  # HF datasets write the IPC stream format; others write the file format
        with pa.memory_map(str(path)) as source:
            try:
                return pa.ipc.open_file(source).read_all()
            except pa.ArrowInvalid:
                source.seek(0)
                return pa.ipc.open_stream(source).read_all()
    if suffix == ".csv":  # every cell a string, as written ("007" stays "007")
        with path.open(newline="") as f:
            return pa.Table.from_pylist(list(csv_reader(f.read())))
    if suffix == ".jsonl":
        _check_nesting(path)
        return pjson.read_json(path)
    if suffix == ".json":
        data = jsontext.loads(path.read_text())
        return pa.Table.from_pylist(data if isinstance(data, list) else data.get("data", []))
    raise DatasetError(f"{path.name}: unsupported dataset file type {suffix!r} (use {', '.join(DATA_SUFFIXES)})")


# pyarrow's JSON reader recurses per nesting level and dies (SIGSEGV) somewhere between 10,000 and
# 50,000 levels: a line with that many brackets is parsed here first, where too deep is an error.
_MANY_BRACKETS = 1_000


def _check_nesting(path: Path) -> None:
    data = path.read_bytes()
    if data.count(b"[") + data.count(b"{") <= _MANY_BRACKETS:
        return
    for n, line in enumerate(data.splitlines(), 1):
        if line.count(b"[") + line.count(b"{") > _MANY_BRACKETS:
            try:
                jsontext.loads(line)
            except json.JSONDecodeError as exc:
                raise DatasetError(f"{path.name}:{n}: invalid JSON: {exc.msg}") from None


def read_files(paths: list[Path], name: str) -> Table:
    import pyarrow as pa

    tables = []
    for path in paths:
        try:
            tables.append(_read_table(path))
        except (pa.ArrowException, OSError, ValueError) as exc:
            if isinstance(exc, DatasetError):
                raise
            raise DatasetError(f"cannot read {path.name}: {exc}") from None
    columns = list(tables[0].column_names) if tables else []
    if len(columns) > MAX_COLUMNS:   # each becomes a var of every case
        raise DatasetError(f"{name} has {len(columns):,} columns, more than the {MAX_COLUMNS:,} read; "
                           "keep the columns the suite uses")
    rows = [row for t in tables for row in t.to_pylist()]
    return Table(name, columns, rows)


def pick_rows(table: Table, sample: int | None, seed: int, limit: int | None) -> list[tuple[int, dict]]:
    """(row number, row): a seeded sample (in file order), then the first `limit`."""
    numbered = list(enumerate(table.rows))
    if sample is not None and sample < len(numbered):
        keep = sorted(random.Random(seed).sample(range(len(numbered)), sample))
        numbered = [numbered[i] for i in keep]
    return numbered[:limit] if limit is not None else numbered


def need_columns(table: Table, wanted: dict[str, str]) -> None:
    """Every mapped column exists, else name the ones that do."""
    have = set(table.columns)
    for field, column in wanted.items():
        if column not in have:
            raise DatasetError(f"{field}: column {column!r} is not in {table.name}; its columns are: "
                               f"{', '.join(table.columns)}")
