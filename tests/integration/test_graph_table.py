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


@pytest.mark.parametrize("kind", ["llama", "mixtral", "gemma3", "gemma2"])
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
        # SmolLM2's KV cache holds as many values as its vocabulary (256 x 192 = 49,152), in many
        # rows: its writes are not operations over the logits.
        assert live.vocab_ops == {}
    # Gemma 3 runs about half as many operations again per layer as a llama: the overhead the
    # per-layer model could not see.
    rows = graph_table().archs
    assert rows["gemma3"].per_layer > 1.3 * rows["llama"].per_layer


def test_operations_over_the_logits_are_timed_per_logit_on_ggml() -> None:
    """What the speed model charges Gemma 2 for its logit cap comes from ggml on this machine; an
    operation it cannot build is left out rather than guessed."""
    from bakeoff.engines.op_cost import seconds_per_value

    costs = seconds_per_value(["TANH", "SCALE", "SOFT_MAX_OF_SOMETHING"], threads=2)
    assert set(costs) == {"TANH", "SCALE"}
    assert all(0 <= c < 1e-6 for c in costs.values())     # per logit: nanoseconds, not microseconds
