"""The speed model's per-architecture graph table against llama.cpp itself: recounted on tiny files,
and extrapolated to the embedded models' real depth. A llama.cpp upgrade that changes the graphs
fails here until the table is rewritten (`python -m bakeoff.engines.graph_table`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bakeoff.engines.graph import decode_graph
from bakeoff.engines.graph_table import measure_arch
from bakeoff.models.gguf_info import read_gguf_info
from bakeoff.models.graph_cost import decode_nodes, graph_table
from bakeoff.models.registry import Registry


@pytest.mark.parametrize("kind", ["llama", "mixtral", "gemma3"])
def test_the_stored_table_matches_a_fresh_count(kind: str, tmp_path: Path, smollm2_path: Path) -> None:
    row = measure_arch(kind, tmp_path, smollm2_path)
    assert graph_table().archs[row.arch] == row


def test_the_table_predicts_the_embedded_models_graphs_at_their_real_depth(smollm2_path: Path) -> None:
    """Counted on 1-3 layer tiny files, the table gives the real 30-layer SmolLM2 (a llama) and the
    18-layer Gemma 3 270M exactly the operations llama.cpp builds for them."""
    gemma = Registry().resolve("gemma3-270m").path
    for path in (smollm2_path, gemma):
        info = read_gguf_info(path)
        live = decode_graph(path)
        assert decode_nodes(info.architecture, info.n_layer) == (live.compute_nodes, True)
        assert live.nodes > live.compute_nodes and live.ops["MUL_MAT"] >= 7 * info.n_layer
    # Gemma 3 runs about half as many operations again per layer as a llama: the overhead the
    # per-layer model could not see.
    rows = graph_table().archs
    assert rows["gemma3"].per_layer > 1.3 * rows["llama"].per_layer
