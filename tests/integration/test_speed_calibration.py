"""Calibrating the speed model for real, on SmolLM2: only sane ranges and self-consistency are
asserted, never how fast this machine is (it is shared and loaded)."""

from __future__ import annotations

import pytest

from bakeoff.catalog.load import catalog
from bakeoff.catalog.queries import expected_speed
from bakeoff.engines.calibrate import TINY_OUTPUT_TOKENS, calibrate
from bakeoff.models.machine import identity, identity_key, load_profile, profile_path, save_profile
from bakeoff.models.perf import output_seconds, predict, shape_from_gguf


def test_calibration_gives_a_sane_consistent_profile_that_is_cached(smollm2_path) -> None:
    from bakeoff.models.gguf_info import read_gguf_info

    profile_path().unlink()                       # drop the fixed test profile: measure for real
    assert load_profile() is None
    prof = calibrate(models=("smollm2-135m",))
    assert prof.key == identity_key(identity())
    assert 0.05 < prof.bandwidth_gbs < 10_000 and 0.05 < prof.compute_gflops < 1e7
    [point] = prof.calibration
    assert point.model == "SmolLM2-135M-Instruct-Q4_1" and point.output_tokens >= 8 and point.prompt_tokens > 50
    assert prof.decode_bytes_per_s > 0 and prof.prefill_flops_per_s > 0 and prof.decode_s_per_layer >= 0
    # The fitted profile gives back the speed it was fitted on, for the same model and work.
    shape = shape_from_gguf(read_gguf_info(smollm2_path))
    assert 1 / output_seconds(prof, shape, 0) == pytest.approx(point.output_tps, rel=0.01)
    assert predict(prof, shape, point.prompt_tokens, 1).prompt_tps == pytest.approx(point.prompt_tps, rel=0.05)
    # Cached with the machine's identity: read back unchanged.
    save_profile(prof)
    assert load_profile() == prof
    # Predictions from a real profile keep their order: a 7B at Q4_K_M is slower than a 0.5B.
    cat = catalog()
    big = expected_speed(cat.get("qwen2.5-7b-instruct"), "Q4_K_M", prof)
    small = expected_speed(cat.get("qwen2.5-0.5b-instruct"), "Q4_K_M", prof)
    assert 0 < big.output_tps < small.output_tps


def test_tiny_calibration_models_are_built_at_their_depth_and_carry_their_graph() -> None:
    """The two tiny llamas separate the cost per graph operation from the fixed cost: each point
    records the operations its model runs per token (the table's count for a llama of that depth)."""
    from bakeoff.engines.calibrate import tiny_kind
    from bakeoff.models.graph_cost import decode_nodes

    assert tiny_kind("tiny-llama-16") == ("llama", 16) and tiny_kind("tiny-llama") == ("llama", 2)
    assert tiny_kind("smollm2-135m") is None
    prof = calibrate(models=("tiny-llama", "tiny-llama-16"))
    points = {p.model: p for p in prof.calibration}
    assert points["tiny-llama-16"].n_layer == 16 and points["tiny-llama"].n_layer == 2
    for p in points.values():
        assert p.graph_nodes == decode_nodes("llama", p.n_layer)[0] and p.output_tokens == TINY_OUTPUT_TOKENS
    assert prof.decode_params_per_s > 0 and prof.decode_s_per_node >= 0 and prof.decode_s_per_layer == 0
