"""Count the decode graph of every tiny architecture and write the speed model's table.

    python -m bakeoff.engines.graph_table            # rewrites src/bakeoff/models/data/graph_nodes.yaml
    python -m bakeoff.engines.graph_table --check    # recounts and says whether the table still holds

For each layout `models.tiny` can build: files with 1, 2 and 3 layers (a mixture of experts also
with twice its experts used per token), each asked for its one-token decode graph
(`engines.graph.decode_graph`). Two depths give the fixed and per-layer counts, the third checks
that the count is linear in depth; the expert count gives the cost per used expert. Takes seconds.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml
from gguf.constants import MODEL_ARCH, MODEL_ARCH_NAMES

from ..errors import EngineError
from ..models.graph_cost import TABLE, ArchGraph
from ..models.registry import Registry
from ..models.tiny import SPECS, write_tiny
from .graph import DecodeGraph, decode_graph

METHOD = ("compute nodes (ops other than views, reshapes, permutes, transposes) of llama.cpp's "
          "one-token decode graph (llama_graph_reserve with 1 token), counted on tiny random-weight "
          "files of each layout at 1, 2 and 3 layers; a mixture of experts also with 2 and 4 experts "
          "used; 3 layers checks that the count is linear in depth; vocab_ops: operations other than the "
          "output head over a row as wide as the vocabulary, per token")


def _count(kind: str, folder: Path, tokenizer: Path, n_layer: int, used: int | None = None) -> DecodeGraph:
    hp = {"expert_used_count": used} if used else None
    path = write_tiny(kind, folder / f"{kind}-{n_layer}-{used}.gguf", tokenizer, n_layer=n_layer, hparams=hp)
    return decode_graph(path)


def measure_arch(kind: str, folder: Path, tokenizer: Path) -> ArchGraph:
    """One layout's row, from tiny files of 1, 2 and 3 layers (and twice the experts used)."""
    spec = SPECS[kind]
    arch = MODEL_ARCH_NAMES[MODEL_ARCH[spec["arch"]]]
    used = int(spec["hp"].get("expert_used_count", 0))
    graphs = [_count(kind, folder, tokenizer, n, used or None) for n in (1, 2, 3)]
    one, two, three = (g.compute_nodes for g in graphs)
    per_layer, fixed = two - one, 2 * one - two
    logits = graphs[0].vocab_ops
    if any(g.vocab_ops != logits for g in graphs):
        raise EngineError(f"the {kind} decode graph's operations over the logits change with depth")
    if three != fixed + 3 * per_layer:
        raise EngineError(f"the {kind} decode graph is not linear in depth ({one}, {two}, {three} nodes "
                          "at 1, 2, 3 layers): the table's form no longer fits this llama.cpp")
    if not used:
        return ArchGraph(arch=arch, fixed=fixed, per_layer=per_layer, vocab_ops=logits)
    more = _count(kind, folder, tokenizer, 2, 2 * used).compute_nodes
    per_expert, rem = divmod(more - two, 2 * used)       # 2 layers x `used` more experts
    if rem:
        raise EngineError(f"the {kind} decode graph grows unevenly with the experts used ({two} -> {more})")
    return ArchGraph(arch=f"{arch}+moe", fixed=fixed, per_layer=per_layer - used * per_expert,
                     per_used_expert=per_expert, vocab_ops=logits)


def measure_table(tokenizer: Path) -> dict[str, ArchGraph]:
    with tempfile.TemporaryDirectory() as tmp:
        rows = [measure_arch(kind, Path(tmp), tokenizer) for kind in SPECS]
    return {r.arch: r for r in rows}


def _row_dict(r: ArchGraph) -> dict[str, Any]:
    d: dict[str, Any] = {"fixed": r.fixed, "per_layer": r.per_layer}
    if r.per_used_expert:
        d["per_used_expert"] = r.per_used_expert
    if r.vocab_ops:
        d["vocab_ops"] = dict(r.vocab_ops)
    return d


def write_table(rows: dict[str, ArchGraph], path: Path = TABLE) -> Path:
    doc = {"llama_cpp_python": metadata.version("llama_cpp_python"),
           "measured_at": time.strftime("%Y-%m-%d", time.gmtime()), "method": METHOD,
           "archs": {name: _row_dict(r) for name, r in sorted(rows.items())}}
    path.parent.mkdir(parents=True, exist_ok=True)
    header = "# Written by `python -m bakeoff.engines.graph_table`; see models/graph_cost.py.\n"
    path.write_text(header + yaml.safe_dump(doc, sort_keys=False, width=100), encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="recount and compare with the stored table")
    a = ap.parse_args(argv)
    tokenizer = Path(Registry().resolve("smollm2-135m").path or "")
    rows = measure_table(tokenizer)
    if not a.check:
        print(f"wrote {write_table(rows)} ({len(rows)} architectures)")
        return 0
    from ..models.graph_cost import graph_table

    stored = graph_table().archs
    stale = [name for name, r in rows.items() if stored.get(name) != r]
    print("graph table holds for this llama.cpp" if not stale else f"graph table is stale for: {', '.join(stale)}")
    return 1 if stale else 0


if __name__ == "__main__":
    raise SystemExit(main())
