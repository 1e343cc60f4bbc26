"""Per-architecture graph overhead in the speed model: what a prediction charges, and what it says."""

from __future__ import annotations

import pytest

from bakeoff.catalog.load import catalog
from bakeoff.catalog.queries import expected_speed, speed_shape
from bakeoff.models.graph_cost import decode_nodes, graph_basis, graph_table
from bakeoff.models.perf import shape_for
from fixed_machine import fixed_profile


def test_table_records_how_and_with_which_llama_cpp_it_was_counted() -> None:
    t = graph_table()
    assert t.llama_cpp_python and t.measured_at and "llama_graph_reserve" in t.method
    assert {"llama", "llama+moe", "gemma3", "qwen3", "olmo2", "falcon", "granite", "smollm3"} <= set(t.archs)


def test_nodes_grow_linearly_with_depth_and_with_experts_used() -> None:
    llama = graph_table().archs["llama"]
    assert decode_nodes("llama", 30) == (llama.fixed + 30 * llama.per_layer, True)
    two, _ = decode_nodes("llama", 32, experts_used=2)
    eight, _ = decode_nodes("llama", 32, experts_used=8)
    assert two > decode_nodes("llama", 32)[0] and eight > two


def test_an_unknown_architecture_is_counted_as_a_llama_and_says_so() -> None:
    assert decode_nodes("newarch", 24) == (decode_nodes("llama", 24)[0], False)
    assert "newarch not counted yet: a llama's graph assumed" in graph_basis("newarch", 24)
    assert "counted for qwen3 on tiny files" in graph_basis("qwen3", 36)


def test_a_profile_per_graph_operation_charges_gemma_3_more_than_a_llama_of_its_size() -> None:
    """Same weights, same depth: the architecture with more operations per layer is predicted slower,
    by exactly its extra operations times the cost of one."""
    prof = fixed_profile(decode_s_per_node=5e-6, decode_s_fixed=0.0, decode_params_per_s=20e9,
                         decode_bytes_per_s=1e12)      # compute-bound, as on few cores
    llama = shape_for(270e6, "Q4_K_M", n_layer=18, arch="llama")
    gemma = shape_for(270e6, "Q4_K_M", n_layer=18, arch="gemma3")
    from bakeoff.models.perf import output_seconds

    extra = (gemma.graph_nodes - llama.graph_nodes) * 5e-6
    assert gemma.graph_nodes > llama.graph_nodes
    assert output_seconds(prof, gemma, 0) - output_seconds(prof, llama, 0) == pytest.approx(extra)


def test_catalog_models_get_their_architectures_graph() -> None:
    cat = catalog()
    qwen3, gptoss = cat.get("qwen3-8b"), cat.get("gpt-oss-20b")
    assert speed_shape(qwen3, "Q4_K_M").graph_nodes == decode_nodes("qwen3", qwen3.arch.layers)[0]
    # A mixture of experts pays for routing and for each expert it adds up.
    moe = speed_shape(gptoss, "Q4_K_M").graph_nodes
    assert moe > decode_nodes("llama", gptoss.arch.layers)[0]
    prof = fixed_profile(decode_s_per_node=5e-6)
    assert expected_speed(qwen3, "Q4_K_M", prof).output_tps > 0


def test_gemma_2_pays_per_logit_for_its_cap_and_says_so() -> None:
    """Gemma 2 caps all 256k logits with scale, tanh, scale on one thread: the prediction adds the
    vocabulary times each operation's cost per logit, after the weights are read."""
    from bakeoff.models.perf import logit_seconds, output_seconds

    rows = graph_table().archs
    assert rows["gemma2"].vocab_ops == {"SCALE": 2, "TANH": 1} and rows["granite"].vocab_ops == {"SCALE": 1}
    assert not rows["gemma3"].vocab_ops and not rows["llama"].vocab_ops
    costs = {"TANH": 10e-9, "SCALE": 0.2e-9}
    prof = fixed_profile(decode_s_per_node=5e-6, vocab_op_s=costs)
    gemma2 = speed_shape(catalog().get("gemma-2-2b-it"), "Q4_K_M")
    assert gemma2.n_vocab == 256000
    assert logit_seconds(costs, gemma2) == pytest.approx(256000 * (10e-9 + 2 * 0.2e-9))
    plain = shape_for(gemma2.active_params, "Q4_K_M", n_layer=gemma2.n_layer, arch="gemma2")  # vocab unknown
    assert output_seconds(prof, gemma2, 0) - output_seconds(prof, plain, 0) == pytest.approx(256000 * 10.4e-9)
    assert "1 tanh over every logit" in graph_basis("gemma2", 26)
    assert "over every logit" not in graph_basis("llama", 32)
