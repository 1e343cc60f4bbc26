"""The speed model: predictions from a machine profile, the fit, the cached profile per machine."""

from __future__ import annotations

import pytest

from bakeoff.catalog.load import catalog
from bakeoff.catalog.queries import expected_speed, speed_shape
from bakeoff.models.machine import CalibrationPoint, load_profile, save_profile
from bakeoff.models.perf import SpeedShape, fit_profile, predict, shape_for, shape_from_gguf
from bakeoff.settings import reset_settings
from fixed_machine import fixed_profile


def test_bigger_models_and_bigger_quantizations_are_slower() -> None:
    prof, cat = fixed_profile(), catalog()
    small, big = cat.get("qwen2.5-0.5b-instruct"), cat.get("qwen2.5-7b-instruct")
    q4 = expected_speed(big, "Q4_K_M", prof)
    assert expected_speed(small, "Q4_K_M", prof).output_tps > q4.output_tps
    assert expected_speed(big, "Q8_0", prof).output_tps < q4.output_tps < q4.prompt_tps
    # Memory-bound decoding: ~4.6 GB of Q4_K_M weights at 10 GB/s plus 28 layers x 0.1 ms.
    read = 7.61e9 * 4.84 / 8
    assert q4.output_tps == pytest.approx(1 / (read / 10e9 + 28e-4), rel=0.02)


def test_a_mixture_of_experts_runs_at_the_speed_of_its_active_experts() -> None:
    prof, cat = fixed_profile(), catalog()
    mixtral = cat.get("mixtral-8x7b-instruct")            # 46.7B total, 12.9B active
    dense = shape_for(12.9e9, "Q4_K_M", n_layer=32)
    total = shape_for(46.7e9, "Q4_K_M", n_layer=32)
    moe = expected_speed(mixtral, "Q4_K_M", prof).output_tps
    assert moe == pytest.approx(predict(prof, dense).output_tps, rel=0.05)
    assert moe > 3 * predict(prof, total).output_tps


def test_a_longer_context_slows_output_down() -> None:
    prof, e = fixed_profile(), catalog().get("llama-3.1-8b-instruct")
    short = expected_speed(e, "Q4_K_M", prof, prompt_tokens=100)
    long = expected_speed(e, "Q4_K_M", prof, prompt_tokens=30000)
    assert long.output_tps < short.output_tps and long.prompt_tps < short.prompt_tps
    assert speed_shape(e, "Q4_K_M").kv_bytes_per_pos == 2 * 32 * 8 * 128 * 2   # GQA: 8 KV heads


def test_fit_recovers_the_costs_that_produced_the_measurements() -> None:
    true = fixed_profile(decode_params_per_s=24e9, decode_s_per_layer=2e-4, decode_s_fixed=5e-4,
                         prefill_flops_per_s=80e9, prefill_s_per_layer=1e-5, prefill_s_fixed=2e-5)
    points = []
    for name, layers, read, params in (("a", 30, 1e8, 1.35e8), ("b", 18, 2.5e8, 2.7e8), ("tiny", 2, 1.3e7, 3.2e6)):
        out_s = 5e-4 + layers * 2e-4 + params / 24e9
        pro_s = 2e-5 + layers * 1e-5 + 2 * params / 80e9
        points.append(CalibrationPoint(name, layers, read, 2 * params, 1 / out_s, 1 / pro_s, 96, 32,
                                       active_params=params))
    fitted = fit_profile(fixed_profile(), points)
    for field in ("decode_params_per_s", "decode_s_per_layer", "decode_s_fixed", "prefill_flops_per_s",
                  "prefill_s_per_layer", "prefill_s_fixed"):
        assert getattr(fitted, field) == pytest.approx(getattr(true, field), rel=1e-6), field
    # With each model's graph counted, output tokens are charged per operation instead of per layer.
    ops = {"a": 576, "b": 511, "tiny": 44, "tiny-16": 310}
    by_node = []
    for name, layers, params in (("a", 30, 1.35e8), ("b", 18, 2.7e8), ("tiny", 2, 3.2e6), ("tiny-16", 16, 3.6e6)):
        out_s = 5e-4 + ops[name] * 4e-6 + params / 24e9
        by_node.append(CalibrationPoint(name, layers, 1e7, 2 * params, 1 / out_s, 1e3, 96, 32,
                                        active_params=params, graph_nodes=ops[name]))
    per_node = fit_profile(fixed_profile(), by_node)
    assert per_node.decode_s_per_node == pytest.approx(4e-6, rel=1e-6) and per_node.decode_s_per_layer == 0
    assert per_node.decode_s_fixed == pytest.approx(5e-4, rel=1e-6)
    assert per_node.decode_params_per_s == pytest.approx(24e9, rel=1e-6)
    assert fitted.decode_bytes_per_s == fitted.bandwidth_gbs * 1e9    # the memory roof is measured
    # Two models cannot also give a fixed cost; one model puts all of the time on its weights.
    two = fit_profile(fixed_profile(), points[:2])
    assert two.decode_s_fixed == 0 and two.decode_s_per_layer > 0
    single = fit_profile(fixed_profile(), points[:1])
    assert single.decode_s_per_layer == 0 and single.decode_params_per_s == pytest.approx(
        1.35e8 * points[0].output_tps)


def test_a_big_model_on_many_cores_is_bound_by_memory() -> None:
    """Where the machine multiplies faster than it reads, the bandwidth sets the speed."""
    prof = fixed_profile(decode_params_per_s=400e9, decode_bytes_per_s=50e9, decode_s_per_layer=0.0,
                         decode_s_fixed=0.0)
    shape = SpeedShape(read_bytes=4e9, active_params=7e9, n_layer=32, kv_bytes_per_pos=0.0,
                       attn_flops_per_pos=0.0)
    assert predict(prof, shape).output_tps == pytest.approx(50e9 / 4e9)
    slow = fixed_profile(decode_params_per_s=20e9, decode_bytes_per_s=50e9, decode_s_per_layer=0.0,
                         decode_s_fixed=0.0)
    assert predict(slow, shape).output_tps == pytest.approx(20e9 / 7e9)


def test_profile_is_cached_per_machine_and_measured_again_when_it_changes(monkeypatch) -> None:
    prof = load_profile()
    assert prof is not None and prof.measured_at == "fixed for tests"
    monkeypatch.setenv("BAKEOFF_THREADS", str(prof.identity["threads"] + 7))   # another machine, for speed
    reset_settings()
    assert load_profile() is None
    save_profile(fixed_profile(measured_at="second machine"))
    assert load_profile().measured_at == "second machine"


def test_a_gguf_file_counts_the_bytes_it_reads_per_token(smollm2_path) -> None:
    from bakeoff.models.gguf_info import read_gguf_info

    info = read_gguf_info(smollm2_path)
    shape = shape_from_gguf(info)
    # SmolLM2 ties its embeddings: the one table is also the output matrix, read every token.
    assert shape.read_bytes == pytest.approx(info.file_size, rel=0.03)   # the rest: tokenizer metadata
    assert shape.n_layer == 30 and shape.kv_bytes_per_pos == 2 * 30 * 3 * 64 * 2


def test_tiny_mixture_file_reads_only_its_used_experts(tmp_path, smollm2_path) -> None:
    from bakeoff.models.gguf_info import read_gguf_info
    from tinygguf import write_tiny

    info = read_gguf_info(write_tiny("mixtral", tmp_path / "moe.gguf", smollm2_path))
    llama = read_gguf_info(write_tiny("llama", tmp_path / "dense.gguf", smollm2_path))
    moe, dense = shape_from_gguf(info), shape_from_gguf(llama)
    # 4 experts, 2 used: the expert weights count half; untied input embeddings are not read.
    assert moe.read_bytes < info.file_size and dense.read_bytes < llama.file_size
    assert moe.active_params < info.n_params


def test_a_profile_calibrated_on_a_busy_machine_says_so(capsys) -> None:
    from cli_run import run

    assert fixed_profile(load_avg_1m=0.5).busy_warning() is None
    cpus = fixed_profile().identity["logical_cpus"]
    save_profile(fixed_profile(load_avg_1m=cpus * 4.0))
    code, out, _ = run(capsys, "recommend", "--task", "chat", "--max-memory", "2GiB")
    assert code == 0 and "calibrated while the machine was busy" in out and "--recalibrate" in out


def test_a_model_known_only_by_its_size_gets_a_prediction_too() -> None:
    from bakeoff.models.perf import predict_for_params

    prof = fixed_profile()
    dense = predict_for_params(prof, 30e9, "Q4_K_M", n_layer=48)
    moe = predict_for_params(prof, 30e9, "Q4_K_M", active_params=3e9, n_layer=48)   # a 30B-A3B
    assert moe.output_tps > 5 * dense.output_tps
    assert dense.output_tps == pytest.approx(1 / (30e9 * 4.84 / 8 / 10e9 + 48e-4), rel=0.01)


def test_the_fit_leaves_out_what_a_point_paid_for_its_logits() -> None:
    """A calibration model that runs operations over its logits (charged apart, per logit) fits the
    same costs as one that does not, once what it paid for them is recorded with it."""
    pts = [CalibrationPoint(name, n, 1e8, 2e8, 1 / (2e-4 + n * 1e-5 + 1e8 / 20e9), 500.0, 96, 64,
                            active_params=1e8, graph_nodes=float(n)) for name, n in (("a", 40), ("b", 400), ("c", 900))]
    slowed = [CalibrationPoint(**{**p.__dict__, "output_tps": 1 / (1 / p.output_tps + 3e-4), "logit_s": 3e-4})
              for p in pts]
    plain, capped = fit_profile(fixed_profile(), pts), fit_profile(fixed_profile(), slowed)
    for field in ("decode_s_fixed", "decode_s_per_node", "decode_params_per_s"):
        assert getattr(capped, field) == pytest.approx(getattr(plain, field), rel=1e-6), field
    assert "ns per logit for a tanh" in fixed_profile(vocab_op_s={"TANH": 1.2e-8}).summary()
