"""promptfoo `tests:` and `prompts:`: inline entries and file:// CSV, YAML, JSON and JSONL files.

Each test comes back with where it was written (a Located and the path of the entry inside that
file) so a problem names the file and line it is on.
"""

from __future__ import annotations

import glob
import itertools
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ... import jsontext
from ..cases import Loc, Located, csv_reader, jsonl_objects, parse_yaml

# promptfoo's CSV `__expected` syntax: [not-]TYPE[(THRESHOLD)]:VALUE
_EXPECTED = re.compile(r"^(not-)?([a-z][a-z0-9:-]*?)(?:\((\d+(?:\.\d+)?)\))?(?::([\s\S]*))?$")
# CSV types that promptfoo gives a default threshold (its csv.ts: 0.8 for similar, else 0.75).
_CSV_THRESHOLD_TYPES = {"answer-relevance", "classifier", "context-faithfulness", "context-recall",
                        "context-relevance", "cost", "latency", "levenshtein", "perplexity-score",
                        "perplexity", "rouge-n", "similar", "starts-with"}
_LIST_TYPES = {"contains-all", "contains-any", "icontains-all", "icontains-any"}


@dataclass
class RawTest:
    data: dict[str, Any]
    where: Located
    path: Loc


@dataclass
class Prompt:
    label: str
    messages: list[tuple[str, str]]   # (role, template)


def assertion_from_string(expected: str, known: set[str]) -> dict[str, Any]:
    """One `__expected` cell as promptfoo's assertionFromString reads it (unknown -> equals)."""
    for prefix, kind in (("javascript:", "javascript"), ("fn:", "javascript"), ("eval:", "javascript"),
                         ("grade:", "llm-rubric"), ("llm-rubric:", "llm-rubric"), ("python:", "python")):
        if expected.startswith(prefix):
            value = expected[len(prefix):]
            return {"type": kind, "value": value.strip() if kind != "llm-rubric" else value}
    if expected.startswith("file://") and (expected.endswith(".py") or ".py:" in expected):
        return {"type": "python", "value": expected.strip()}
    m = _EXPECTED.match(expected)
    if m and m.group(2) in known:
        inverse, kind, threshold, value = m.groups()
        spec: dict[str, Any] = {"type": f"{inverse or ''}{kind}", "value": value}
        if kind in _LIST_TYPES:
            spec["value"] = [s.strip() for s in (value or "").split(",")]
        elif kind in _CSV_THRESHOLD_TYPES:
            spec["threshold"] = float(threshold) if threshold and float(threshold) else (
                0.8 if kind == "similar" else 0.75)
        return spec
    return {"type": "equals", "value": expected}


def csv_test(row: dict[str, str], known: set[str]) -> dict[str, Any]:
    """A CSV row as promptfoo reads it: plain columns are vars; __expected*, __description,
    __threshold, __metric, __prefix and __suffix are special."""
    test: dict[str, Any] = {"vars": {}, "assert": []}
    metric = None
    for key, value in row.items():
        if key is None:
            continue
        if key.startswith("__expected"):
            if value and value.strip():
                test["assert"].append(assertion_from_string(value, known))
        elif key in ("__prefix", "__suffix"):
            test.setdefault("options", {})[key[2:]] = value
        elif key == "__description":
            test["description"] = value
        elif key == "__metric":
            metric = value
        elif key == "__threshold":
            try:
                threshold = float(value)
            except ValueError:
                threshold = 0.0
            if threshold:
                test["threshold"] = threshold
        elif key.startswith("__"):
            test[key] = value            # listed as unsupported by the reader
        else:
            test["vars"][key] = value
    for spec in test["assert"]:
        if metric:
            spec["metric"] = metric
    return test


def read_file_ref(ref: str, base_dir: Path, shown_in: Located, path: Loc, known: set[str]) -> list[RawTest]:
    """Tests from `file://NAME` (globs allowed): CSV, YAML/JSON list, or JSONL."""
    pattern = str(base_dir / ref.removeprefix("file://"))
    files = sorted(glob.glob(pattern)) if any(c in pattern for c in "*?[") else [pattern]
    if not files:
        raise shown_in.error(path, f"no test files match {ref!r}", f"paths are relative to {base_dir}")
    out: list[RawTest] = []
    for name in files:
        out.extend(_read_one(Path(name), shown_in, path, known))
    return out


def _read_one(file: Path, shown_in: Located, path: Loc, known: set[str]) -> list[RawTest]:
    shown = str(file)
    try:
        text = file.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise shown_in.error(path, f"cannot read test file {shown}: {getattr(exc, 'strerror', None) or exc}",
                             "check the file:// path (relative to the config)") from None
    suffix = file.suffix.lower()
    if suffix == ".csv":
        reader = csv_reader(text)
        return [RawTest(csv_test(row, known), Located(shown, line=reader.line_num), ())
                for row in reader]
    if suffix == ".jsonl":
        return [RawTest(row, Located(shown, line=n), ()) for n, row in jsonl_objects(text, shown)]
    if suffix in (".yaml", ".yml", ".json"):
        data, locs = parse_yaml(text, shown)
        data = data if isinstance(data, list) else [data]
        return [RawTest(d, Located(shown, locs), (i,)) for i, d in enumerate(data)]
    raise shown_in.error(path, f"unsupported test file type {suffix!r}",
                         "promptfoo tests files Bakeoff reads: .csv, .yaml, .yml, .json, .jsonl")


# Cases one config may expand to: list-valued vars multiply (ten vars of ten values are 10**10
# cases from a few hundred bytes), so the product is counted before anything is expanded.
MAX_EXPANDED_CASES = 100_000


def count_combinations(values: dict[str, Any]) -> int:
    return math.prod(len(v) for v in values.values() if isinstance(v, list))


def expand_vars(values: dict[str, Any]) -> list[dict[str, Any]]:
    """promptfoo runs every combination of list-valued vars (a list var is a set of values)."""
    keys = [k for k, v in values.items() if isinstance(v, list)]
    if not keys:
        return [values]
    combos = itertools.product(*(values[k] for k in keys))
    return [{**values, **dict(zip(keys, combo))} for combo in combos]


# --- prompts -----------------------------------------------------------------------------------

def chat_messages(text: str) -> list[tuple[str, str]] | None:
    """A prompt that is a JSON (or YAML) list of {role, content} messages, else None."""
    stripped = text.strip()
    if not stripped.startswith("["):
        return None
    try:
        data = jsontext.loads(stripped)
    except json.JSONDecodeError:
        return None
    if isinstance(data, list) and data and all(isinstance(m, dict) and "role" in m for m in data):
        return [(str(m["role"]), str(m.get("content", ""))) for m in data]
    return None


def split_text_prompts(text: str) -> list[str]:
    """A text file holds prompts separated by `---` lines; each is trimmed, empty ones dropped."""
    parts: list[list[str]] = [[]]
    for line in text.splitlines():
        if line.strip() == "---":
            parts.append([])
        else:
            parts[-1].append(line)
    return [p for p in ("\n".join(lines).strip() for lines in parts) if p]


def prompts_from_file(ref: str, base_dir: Path) -> list[Prompt]:
    """file:// prompts: .json/.yaml chat messages, text split into several prompts by `---` lines."""
    pattern = ref.removeprefix("file://")
    files = sorted(glob.glob(str(base_dir / pattern))) if any(c in pattern for c in "*?[") else [
        str(base_dir / pattern)]
    out: list[Prompt] = []
    for name in files:
        file = Path(name)
        text = file.read_text()
        label = f"file://{file.relative_to(base_dir) if file.is_relative_to(base_dir) else file}"
        if file.suffix in (".yaml", ".yml"):
            data, _ = parse_yaml(text, name)
            text = json.dumps(data)
        messages = chat_messages(text)
        if messages is not None:
            out.append(Prompt(label, messages))
            continue
        parts = split_text_prompts(text) if file.suffix != ".json" else [text]
        for i, part in enumerate(parts):
            out.append(Prompt(label if len(parts) == 1 else f"{label}#{i + 1}", [("user", part)]))
    return out
