"""How many operations llama.cpp runs per decoded token, per architecture: kept as data.

The table (data/graph_nodes.yaml) was counted by `python -m bakeoff.engines.graph_table`: tiny
random-weight files of each architecture with 1, 2 and 3 layers (and, for a mixture of experts, 2
and 4 experts used per token), asked for their one-token decode graph. The count is exactly linear:

    compute nodes per token = fixed + n_layer x (per_layer + experts_used x per_used_expert)

(ops ggml-cpu skips, such as views and reshapes, are left out). Operations over the whole vocabulary
(Gemma 2's logit cap: scale, tanh, scale; Granite's logit scale) are listed apart as `vocab_ops`:
they cost per vocabulary token, not per operation (`engines.op_cost`). It lets the speed model charge each
architecture its own graph overhead before anything is downloaded. An architecture the table lacks
gets the llama row, and the prediction says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

TABLE = Path(__file__).with_name("data") / "graph_nodes.yaml"
FALLBACK = "llama"


@dataclass(frozen=True)
class ArchGraph:
    """One architecture's decode-graph size: nodes = fixed + n_layer x (per_layer + used x per_used_expert)."""

    arch: str                   # llama.cpp's architecture name; "<arch>+moe" for its mixture-of-experts form
    fixed: int
    per_layer: int
    per_used_expert: int = 0
    vocab_ops: dict[str, int] = field(default_factory=dict)   # op -> count over the logits, per token

    def nodes(self, n_layer: int, experts_used: int = 0) -> int:
        return self.fixed + n_layer * (self.per_layer + experts_used * self.per_used_expert)


@dataclass(frozen=True)
class GraphTable:
    llama_cpp_python: str       # the version the counts were taken with
    measured_at: str
    method: str
    archs: dict[str, ArchGraph]

    def row(self, arch: str | None, moe: bool = False) -> ArchGraph | None:
        if not arch:
            return None
        return self.archs.get(f"{arch}+moe") if moe and f"{arch}+moe" in self.archs else self.archs.get(arch)


@lru_cache(maxsize=1)
def graph_table() -> GraphTable:
    doc = yaml.safe_load(TABLE.read_text(encoding="utf-8"))
    rows = {name: ArchGraph(arch=name, **row) for name, row in doc["archs"].items()}
    return GraphTable(llama_cpp_python=str(doc["llama_cpp_python"]), measured_at=str(doc["measured_at"]),
                      method=doc["method"], archs=rows)


def decode_nodes(arch: str | None, n_layer: int, experts_used: int = 0) -> tuple[int, bool]:
    """(compute nodes per decoded token, whether the table knows this architecture). An unknown one
    is counted as a llama of that depth; a mixture of experts the table knows only densely gets the
    dense row plus the llama mixture's routing cost."""
    table = graph_table()
    row = table.row(arch, moe=experts_used > 0)
    known = row is not None
    if row is None:
        row = table.row(FALLBACK, moe=experts_used > 0) or table.archs[FALLBACK]
    elif experts_used > 0 and not row.arch.endswith("+moe"):
        dense, moe = table.archs[FALLBACK], table.archs.get(f"{FALLBACK}+moe")
        if moe is not None:      # add what routing costs a llama over its dense form
            extra = moe.nodes(n_layer, experts_used) - dense.nodes(n_layer)
            return row.nodes(n_layer) + extra, known
    return row.nodes(n_layer, experts_used if row.arch.endswith("+moe") else 0), known


def vocab_ops(arch: str | None) -> dict[str, int]:
    """The operations the architecture applies to all logits per token (none for one not counted)."""
    row = graph_table().row(arch)
    return dict(row.vocab_ops) if row else {}


def logit_ops() -> set[str]:
    """Every operation some architecture in the table runs over all its logits."""
    return {op for row in graph_table().archs.values() for op in row.vocab_ops}


def graph_basis(arch: str | None, n_layer: int, experts_used: int = 0) -> str:
    """What a prediction's graph overhead rests on, for the reasons a recommendation lists."""
    nodes, known = decode_nodes(arch, n_layer, experts_used)
    table = graph_table()
    where = (f"counted for {arch} on tiny files" if known
             else f"{arch or 'this architecture'} not counted yet: a llama's graph assumed")
    logits = vocab_ops(arch)
    over = f"; {', '.join(f'{n} {op.lower()}' for op, n in logits.items())} over every logit" if logits else ""
    return f"{nodes} graph operations per token{over} ({where}, llama-cpp-python {table.llama_cpp_python})"


__all__ = ["ArchGraph", "GraphTable", "decode_nodes", "graph_basis", "graph_table", "logit_ops", "vocab_ops"]
