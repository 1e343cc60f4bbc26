"""Per-task document preprocessing named from task YAML (lm-evaluation-harness's process_docs)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

Doc = dict[str, Any]


def _hellaswag_clean(text: str) -> str:
    # lm_eval/tasks/hellaswag/utils.py preprocess: WikiHow "[title]" markers become sentence breaks,
    # other bracketed markers go, double spaces collapse.
    text = text.strip()
    text = text.replace(" [title]", ". ")
    text = re.sub("\\[.*?\\]", "", text)
    return text.replace("  ", " ")


def hellaswag(doc: Doc) -> Doc:
    ctx = doc["ctx_a"] + " " + doc["ctx_b"].capitalize()
    return {**doc, "query": _hellaswag_clean(doc["activity_label"] + ": " + ctx),
            "choices": [_hellaswag_clean(e) for e in doc["endings"]], "gold": int(doc["label"])}


def winogrande(doc: Doc) -> Doc:
    # lm_eval/tasks/winogrande/preprocess_winogrande.py: partial evaluation around the blank "_".
    blank = doc["sentence"].index("_")
    options = [doc["option1"], doc["option2"]]
    return {**doc, "contexts": [doc["sentence"][:blank] + o for o in options],
            "continuation": doc["sentence"][blank + 1:].strip(),
            "gold": {"1": 0, "2": 1}[doc["answer"]]}


def normalise_number(answer: str) -> str:
    """The harness's regexes_to_ignore for GSM8K: commas, dollar signs, a trailing period."""
    return re.sub(r"\.$", "", answer.replace(",", "").replace("$", "").strip())


def gsm8k(row: Doc) -> Doc:
    """One shipped request line -> question, target and the exemplars from its context."""
    parts = row["request"]["context"].split("\n\n")
    return {"question": row["doc"]["question"], "target": normalise_number(row["doc"]["short_answer"]),
            "shots": parts[:-1]}


PREPROCESSORS: dict[str, Callable[[Doc], Doc]] = {"hellaswag": hellaswag, "winogrande": winogrande,
                                                  "gsm8k": gsm8k}
