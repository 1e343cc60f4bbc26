"""Multiple-choice items as log-likelihood requests, and their per-item scores.

Prompt assembly follows lm-evaluation-harness: context = few-shot examples (each "text" +
target_delimiter + its gold choice) joined by fewshot_delimiter, then the item's text; each choice is
scored as the continuation target_delimiter + choice. Partial scoring (WinoGrande) swaps roles: each
choice makes its own context and the continuation is shared.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import jinja2

from ...engines.base import LogLik, LogLikRequest
from ...errors import SuiteError
from .metrics import mc_correct
from .tasks import TaskSpec


@lru_cache(maxsize=1)
def _env() -> jinja2.Environment:
    # jinja2 is imported on first use: the CLI imports this module at start-up, and `bakeoff --help`
    # must not pay for the template engine.
    import jinja2

    return jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                              autoescape=False)


@lru_cache(maxsize=256)
def _template(source: str) -> jinja2.Template:
    return _env().from_string(source)


@lru_cache(maxsize=256)
def _expression(source: str) -> Any:
    return _env().compile_expression(source, undefined_to_none=False)


def render(spec: TaskSpec, field: str, doc: dict[str, Any]) -> Any:
    """Evaluate one of the task's templates (`text`) or expressions (the others) for a document."""
    import jinja2  # already loaded by _env(); bound here for the except clause

    source = getattr(spec, field)
    try:
        if field == "text":
            return _template(source).render(**doc)
        return _expression(source)(**doc)
    except (jinja2.TemplateError, ValueError, KeyError, IndexError, TypeError) as exc:
        raise SuiteError(f"cannot evaluate {source!r}: {exc}", file=f"{spec.name}.yaml",
                         field=field) from None


@dataclass
class MCItem:
    requests: list[LogLikRequest]
    choices: list[str]      # what acc_norm divides by (the harness's doc_to_choice strings)
    gold: int


def example_text(spec: TaskSpec, doc: dict[str, Any]) -> str:
    """A solved example for the few-shot preamble."""
    gold = int(render(spec, "gold", doc))
    if spec.partial:
        return render(spec, "contexts", doc)[gold] + spec.target_delimiter + render(spec, "continuation", doc)
    return render(spec, "text", doc) + spec.target_delimiter + render(spec, "choices", doc)[gold]


def build_item(spec: TaskSpec, docs: list[dict[str, Any]], idx: int, shots: int) -> MCItem:
    doc = docs[idx]
    shots_idx = spec.fewshot_indices(idx, shots, len(docs))
    preamble = "".join(example_text(spec, docs[i]) + spec.fewshot_delimiter for i in shots_idx)
    gold = int(render(spec, "gold", doc))
    if spec.partial:
        contexts = list(render(spec, "contexts", doc))
        cont = spec.target_delimiter + render(spec, "continuation", doc)
        return MCItem([LogLikRequest(preamble + c, cont) for c in contexts], contexts, gold)
    context = preamble + render(spec, "text", doc)
    choices = [str(c) for c in render(spec, "choices", doc)]
    return MCItem([LogLikRequest(context, spec.target_delimiter + c) for c in choices], choices, gold)


def score_item(item: MCItem, lls: list[LogLik]) -> dict[str, Any]:
    """The stored per-item record: every choice's log-likelihood, greedy flag and the scores."""
    values = [r.logprob for r in lls]
    correct = mc_correct(values, [len(c) for c in item.choices], item.gold)
    return {"gold": item.gold, "loglik": values, "is_greedy": [r.is_greedy for r in lls],
            "n_tokens": [r.n_tokens for r in lls], **correct}
