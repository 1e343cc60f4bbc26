"""Training data for `bakeoff tune`: read, validate, split, and check for leakage.

Accepted files (each row becomes one `Example`, a conversation whose assistant turns are learned):
- OpenAI fine-tuning JSONL: {"messages": [{"role": "system"|"user"|"assistant", "content": "..."}]}
  (an assistant message with "weight": 0 is context, not a target, as in OpenAI's format);
- prompt/completion JSONL: {"prompt": "...", "completion": "..."} (optional "system");
- CSV with `prompt` and `completion` columns (optional `system`);
- a bakeoff suite (.yaml) whose cases carry an expected answer (an `equals` assertion).

Every problem stops the run before anything loads, naming file, line and field.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..engines.base import Message
from ..errors import SuiteError

ROLES = ("system", "user", "assistant")


@dataclass(frozen=True)
class Turn:
    role: str
    content: str
    learn: bool = False          # an assistant turn the loss is computed on


@dataclass(frozen=True)
class Example:
    turns: tuple[Turn, ...]
    source: str                  # "file:line" (or "file:case-id") where the row is written

    @property
    def prompt_messages(self) -> list[Message]:
        """The conversation up to the last learned turn: what a model is asked at evaluation."""
        last = max(i for i, t in enumerate(self.turns) if t.learn)
        return [Message(role=t.role, content=t.content) for t in self.turns[:last]]

    @property
    def target(self) -> str:
        return [t for t in self.turns if t.learn][-1].content

    @property
    def prompt_key(self) -> str:
        """What leakage is judged on: the prompt with case and whitespace folded."""
        return "\x1e".join(f"{m.role}:{' '.join(m.content.split()).casefold()}"
                           for m in self.prompt_messages)


@dataclass(frozen=True)
class Dataset:
    train: list[Example]
    eval: list[Example]
    sha256: str                  # of the files read (train, then eval when given)
    files: list[str]


def _err(file: str, line: int | None, field: str | None, message: str, hint: str | None = None) -> SuiteError:
    return SuiteError(message, file, line, field, hint)


# --- rows ----------------------------------------------------------------------------------------

def _text(row: dict[str, Any], key: str, file: str, line: int, where: str = "") -> str:
    value = row.get(key)
    if not isinstance(value, str) or not value.strip():
        got = "missing" if value is None else f"{type(value).__name__} {value!r}"[:60]
        raise _err(file, line, f"{where}{key}", f"must be a non-empty string (got {got})")
    return value


def _chat_row(row: dict[str, Any], file: str, line: int) -> tuple[Turn, ...]:
    messages = row["messages"]
    if not isinstance(messages, list) or not messages:
        raise _err(file, line, "messages", "must be a non-empty list of {role, content} objects")
    turns = []
    for i, msg in enumerate(messages):
        where = f"messages[{i}]."
        if not isinstance(msg, dict):
            raise _err(file, line, f"messages[{i}]", "must be an object with role and content")
        role = msg.get("role")
        if role not in ROLES:
            raise _err(file, line, f"{where}role", f"unknown role {role!r}",
                       f"use one of {', '.join(ROLES)} (tool calls are not supported)")
        weight = msg.get("weight", 1)
        if weight not in (0, 1):
            raise _err(file, line, f"{where}weight", f"must be 0 or 1 (got {weight!r})")
        content = _text(msg, "content", file, line, where)
        turns.append(Turn(role, content, learn=role == "assistant" and weight == 1))
    if not any(t.learn for t in turns):
        raise _err(file, line, "messages", "has no assistant message to learn from",
                   "end each conversation with the assistant's answer")
    return tuple(turns)


def _pair_row(row: dict[str, Any], file: str, line: int) -> tuple[Turn, ...]:
    system = row.get("system")
    turns = [Turn("system", _text(row, "system", file, line))] if system is not None else []
    turns += [Turn("user", _text(row, "prompt", file, line)),
              Turn("assistant", _text(row, "completion", file, line), learn=True)]
    return tuple(turns)


def _row_turns(row: dict[str, Any], file: str, line: int) -> tuple[Turn, ...]:
    if "messages" in row:
        return _chat_row(row, file, line)
    if "prompt" in row or "completion" in row:
        return _pair_row(row, file, line)
    raise _err(file, line, None, f"row has neither `messages` nor `prompt`/`completion` "
               f"(keys: {', '.join(sorted(row)) or 'none'})",
               'use {"messages": [...]} (OpenAI fine-tuning format) or {"prompt": ..., "completion": ...}')


# --- files ---------------------------------------------------------------------------------------

def _read_jsonl(text: str, file: str) -> list[Example]:
    from ..evals.cases import jsonl_objects

    return [Example(_row_turns(row, file, n), f"{file}:{n}") for n, row in jsonl_objects(text, file)]


def _read_csv(text: str, file: str) -> list[Example]:
    from ..evals.cases import csv_reader

    reader = csv_reader(text)
    missing = [c for c in ("prompt", "completion") if c not in (reader.fieldnames or [])]
    if missing:
        raise _err(file, 1, missing[0], f"CSV header lacks column(s) {', '.join(missing)} "
                   f"(has: {', '.join(reader.fieldnames or []) or 'none'})",
                   "name the columns prompt,completion (and optionally system)")
    out = []
    for row in reader:
        clean = {k: v for k, v in row.items() if k in ("prompt", "completion", "system") and
                 (k != "system" or v)}
        out.append(Example(_pair_row(clean, file, reader.line_num), f"{file}:{reader.line_num}"))
    return out


def _read_suite(path: Path, file: str) -> list[Example]:
    from ..evals.suite import load_suite

    out = []
    for case in load_suite(path).cases:
        expected = next((a["value"] for a in case.asserts if a.get("type") == "equals"), None)
        if expected is None or not str(expected).strip():
            line = case.source.rsplit(":", 1)[-1]
            raise _err(file, int(line) if line.isdigit() else None, f"{case.id}.assert",
                       "case has no expected answer to learn from",
                       "give every case an `equals` assertion with the answer")
        turns = [Turn(m.role, m.content) for m in case.messages()]
        out.append(Example((*turns, Turn("assistant", str(expected), learn=True)), case.source))
    return out


def read_examples(path: str | Path) -> tuple[list[Example], bytes]:
    """All examples in one file, and the file's bytes (for its SHA-256)."""
    path = Path(path).expanduser()
    file = str(path)
    try:
        raw = path.read_bytes()
        text = raw.decode("utf-8")
    except OSError as exc:
        raise _err(file, None, None, f"cannot read training data: {exc.strerror or exc}",
                   "check the path") from None
    except UnicodeDecodeError:
        raise _err(file, None, None, "not UTF-8 text", "save the file as UTF-8") from None
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".json"):
        examples = _read_jsonl(text, file)
    elif suffix == ".csv":
        examples = _read_csv(text, file)
    elif suffix in (".yaml", ".yml"):
        examples = _read_suite(path, file)
    else:
        raise _err(file, None, None, f"unsupported data file type {suffix or '(none)'!r}",
                   "use .jsonl (OpenAI messages or prompt/completion), .csv or a suite .yaml")
    if not examples:
        raise _err(file, None, None, "the file holds no examples")
    return examples, raw


# --- split and leakage ---------------------------------------------------------------------------

def split(examples: list[Example], eval_fraction: float, seed: int) -> tuple[list[Example], list[Example]]:
    """A seeded split that keeps every copy of a prompt on one side (no leakage by construction)."""
    groups: dict[str, list[Example]] = {}
    for ex in examples:
        groups.setdefault(ex.prompt_key, []).append(ex)
    keys = sorted(groups)
    random.Random(seed).shuffle(keys)
    n_eval = max(1, round(len(keys) * eval_fraction)) if eval_fraction > 0 else 0
    if n_eval >= len(keys):
        raise _err("--data", None, None, f"{len(keys)} distinct prompts are too few to hold out "
                   f"{eval_fraction:.0%}", "add examples, lower --eval-fraction or pass --eval FILE")
    held = set(keys[:n_eval])
    return ([ex for ex in examples if ex.prompt_key not in held],
            [ex for ex in examples if ex.prompt_key in held])


def check_leakage(train: list[Example], held_out: list[Example]) -> None:
    seen = {ex.prompt_key: ex for ex in train}
    leaks = [(seen[ex.prompt_key], ex) for ex in held_out if ex.prompt_key in seen]
    if leaks:
        a, b = leaks[0]
        raise SuiteError(f"{len(leaks)} held-out prompt(s) also appear in the training data, "
                         f"e.g. {b.source} repeats {a.source}",
                         hint="remove them from one side: a held-out score on seen prompts "
                              "measures memory, not learning")


def check_askable(held_out: list[Example]) -> None:
    """A held-out case asks the conversation up to its answer: it must end with a user turn."""
    for ex in held_out:
        msgs = ex.prompt_messages
        if not msgs or msgs[-1].role != "user":
            raise SuiteError("a held-out conversation must reach its answer from a user message "
                             f"(the answer follows {msgs[-1].role if msgs else 'nothing'})", ex.source,
                             hint="put the user's question right before the assistant answer being learned")


def load_dataset(data: str | Path, eval_file: str | Path | None = None, *,
                 eval_fraction: float = 0.2, seed: int = 0) -> Dataset:
    train, raw = read_examples(data)
    digest = hashlib.sha256(raw)
    files = [str(data)]
    if eval_file is not None:
        held_out, raw_eval = read_examples(eval_file)
        digest.update(raw_eval)
        files.append(str(eval_file))
    else:
        train, held_out = split(train, eval_fraction, seed)
    check_leakage(train, held_out)
    check_askable(held_out)
    return Dataset(train, held_out, digest.hexdigest(), files)
