"""Proof that the exported adapter is the trained model: llama.cpp applying the exported GGUF
adapter at load time gives the same next-token log-probabilities as PyTorch running the peft LoRA on
the base that transformers dequantized from the same GGUF file.

Two bases:
- The weights exactly as PyTorch trains on them: SmolLM2's Q4_1 file dequantized into an F32 GGUF
  (the same numbers transformers computes). Both runtimes then do float32 arithmetic, so the
  log-probabilities must agree within 0.02 nats (max over 4 prompts x PyTorch's top 10 tokens),
  with and without the adapter. A wrong tensor name, a wrong scale or a missing q/k row
  permutation must break that.
- The quantized Q4_1 file itself, as users run it: llama.cpp rounds activations to 8 bits for its
  Q4_1 products, which moves log-probabilities by a few tenths of a nat with or without an
  adapter, so here the check is that the adapter loads and moves the distribution the same way
  (relative L2 error of the effect below 0.5 on the top tokens).

And the merged model (`bakeoff merge`): the adapter folded into the weights must answer as the base
plus the adapter at load time does (see the constants before the merge tests for the tolerances).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from bakeoff.engines.llamacpp import log_softmax  # noqa: E402
from bakeoff.models.gguf_info import read_gguf_info  # noqa: E402
from bakeoff.models.ref import Adapter, ModelRef  # noqa: E402
from bakeoff.tune.export import BaseShape, LoraPair, lora_pairs, write_adapter  # noqa: E402
from bakeoff.tune.merge import write_merged  # noqa: E402

PROMPTS = ["The capital of France is", "def fibonacci(n):", "<|im_start|>user\nName three colors.<|im_end|>\n"
           "<|im_start|>assistant\n", "Once upon a time, in a small village,"]
TOP = 10
TOLERANCE = 0.02      # nats: max |logprob_llama - logprob_torch| on the F32 base, top tokens
QUANT_TOLERANCE = 0.5  # relative L2 error of the adapter's effect on the Q4_1 base
MIN_EFFECT = 1.0      # nats: the adapter must move the distribution by at least this much
# On the top tokens of the Q4_1 file the same random adapter (q and v, the default targets) moves the
# log-probs by about 0.85 nats: still far above the 0.5 relative error allowed below.
MIN_QUANT_EFFECT = 0.5
ALPHA, RANK = 16.0, 8
# Every projection of a block, not the default q/v: the conversion is checked on every layout it
# handles (attention, MLP, the permuted q/k), with an effect well above llama.cpp's rounding.
ALL_PROJECTIONS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
QK = ("q_proj", "k_proj")


@pytest.fixture(scope="module")
def trained(smollm2_path: Path, tmp_path_factory):
    """A LoRA with random, non-zero A and B on every projection (a trained adapter's stand-in that
    moves every layer), the PyTorch log-probs with and without it, and its exported pairs."""
    from peft import LoraConfig, get_peft_model

    from bakeoff.engines.llama_lowlevel import VocabOnly
    from bakeoff.tune.train import load_base

    torch.manual_seed(0)
    info = read_gguf_info(str(smollm2_path))
    model = get_peft_model(load_base(info), LoraConfig(r=RANK, lora_alpha=ALPHA, target_modules=ALL_PROJECTIONS,
                                                       init_lora_weights=False))
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_A" in name:
                p.normal_(0, 0.05)
            elif "lora_B" in name:
                p.normal_(0, 0.02)
    model.eval()
    vocab = VocabOnly(str(smollm2_path))
    tokens = [vocab.tokenize(p) for p in PROMPTS]
    vocab.close()

    def logprobs() -> list[np.ndarray]:
        with torch.no_grad():
            return [torch.log_softmax(model(torch.tensor([t])).logits[0, -1].double(), -1).numpy()
                    for t in tokens]

    tuned = logprobs()
    pairs = lora_pairs(model)
    with model.disable_adapter():
        base = logprobs()
    # The same adapter on the attention queries and keys alone: the rows whose order the GGUF
    # file permutes for rotary embeddings (the other projections would drown a wrong order).
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name and not any(f".{t}." in name for t in QK):
                p.zero_()
    qk_tuned = logprobs()
    shape = BaseShape("llama", info.n_layer, info.n_head, info.n_head_kv)
    return {"pairs": pairs, "qk_pairs": [p for p in pairs if p.hf_name.rsplit(".", 1)[-1] in QK],
            "shape": shape, "tokens": tokens, "torch_tuned": tuned, "torch_qk": qk_tuned,
            "torch_base": base, "dir": tmp_path_factory.mktemp("adapters"), "path": smollm2_path}


def llama_logprobs(path: Path, tokens: list[list[int]], adapter: Path | None) -> list[np.ndarray]:
    """Next-token log-probabilities from llama.cpp, the adapter given as a load option."""
    return [lp[-1] for lp in position_logprobs(path, tokens, adapter)]


def position_logprobs(path: Path, tokens: list[list[int]], adapter: Path | None) -> list[np.ndarray]:
    """Log-probabilities after every prefix of every prompt: [positions, n_vocab] per prompt."""
    from bakeoff.engines import LoadOptions, open_engine

    ref = ModelRef("smollm2", "llamacpp", "file", path=str(path))
    engine = open_engine(ref, LoadOptions(n_ctx=256, threads=2,
                                          adapters=(Adapter(str(adapter)),) if adapter else ()))
    try:
        out = []
        for t in tokens:
            engine.h.clear()
            engine.h.decode(t, range(len(t)), [0] * len(t), [True] * len(t))
            out.append(np.stack([log_softmax(engine.h.logits(i).astype(np.float64)) for i in range(len(t))]))
        return out
    finally:
        engine.close()


def f32_copy(src: Path, dst: Path) -> Path:
    """The same model with every tensor dequantized to F32 (metadata copied as it is)."""
    return write_merged(src, None, dst, "F32").path


@pytest.fixture(scope="module")
def f32_base(trained):
    path = f32_copy(trained["path"], trained["dir"] / "smollm2-f32.gguf")
    return path, llama_logprobs(path, trained["tokens"], None)


@pytest.fixture(scope="module")
def llama_base(trained):
    return llama_logprobs(trained["path"], trained["tokens"], None)


def max_error(trained, f32_base, adapter: Path | None, torch_key: str) -> float:
    """max |logprob_llama - logprob_torch| over prompts and PyTorch's top tokens, on the F32 base."""
    path, base = f32_base
    got = llama_logprobs(path, trained["tokens"], adapter) if adapter else base
    err = max(float(np.abs(lt[np.argsort(-pt)[:TOP]] - pt[np.argsort(-pt)[:TOP]]).max())
              for pt, lt in zip(trained[torch_key], got))
    print(f"{adapter.name if adapter else 'no adapter'}: max |logprob_llama - logprob_torch| {err:.4f} nats")
    return err


def disagreement(trained, llama_base, adapter: Path, torch_key: str = "torch_tuned") -> tuple[float, float]:
    """(relative error, effect): ||delta_llama - delta_torch|| / ||delta_torch|| over every prompt's
    top tokens (L2, pooled), and the largest |delta_torch| (nats)."""
    tuned = llama_logprobs(trained["path"], trained["tokens"], adapter)
    diff, ref = [], []
    for pt, pb, lt, lb in zip(trained[torch_key], trained["torch_base"], tuned, llama_base):
        top = np.argsort(-pt)[:TOP]
        d_torch, d_llama = pt[top] - pb[top], lt[top] - lb[top]
        diff.append(d_llama - d_torch)
        ref.append(d_torch)
    rel = float(np.linalg.norm(np.concatenate(diff)) / np.linalg.norm(np.concatenate(ref)))
    effect = float(np.abs(np.concatenate(ref)).max())
    worst = float(np.abs(np.concatenate(diff)).max())
    print(f"{adapter.name}: relative error {rel:.3f}, max |delta_llama - delta_torch| {worst:.3f} nats, "
          f"adapter effect up to {effect:.3f} nats")
    return rel, effect


def test_base_alone_matches(trained, f32_base):
    assert max_error(trained, f32_base, None, "torch_base") < TOLERANCE


def test_adapter_in_llamacpp_matches_pytorch_lora(trained, f32_base):
    path = write_adapter(trained["dir"] / "ok.gguf", trained["pairs"], trained["shape"], ALPHA)
    effect = max(float(np.abs(t - b).max()) for t, b in zip(trained["torch_tuned"], trained["torch_base"]))
    assert effect > MIN_EFFECT, f"the adapter barely changes the model ({effect:.3f} nats)"
    assert max_error(trained, f32_base, path, "torch_tuned") < TOLERANCE


def test_adapter_on_the_quantized_file_moves_the_model_the_same_way(trained, llama_base):
    path = write_adapter(trained["dir"] / "ok.gguf", trained["pairs"], trained["shape"], ALPHA)
    rel, effect = disagreement(trained, llama_base, path)
    assert effect > MIN_QUANT_EFFECT and rel < QUANT_TOLERANCE


def test_wrong_scale_breaks_equivalence(trained, f32_base):
    path = write_adapter(trained["dir"] / "scale.gguf", trained["pairs"], trained["shape"], 2 * ALPHA)
    assert max_error(trained, f32_base, path, "torch_tuned") > TOLERANCE


def test_wrong_tensor_names_break_equivalence(trained, f32_base):
    """Layers 0 and 1 swapped: same shapes, so llama.cpp loads it, but on the wrong weights."""
    swap = {"model.layers.0.": "model.layers.1.", "model.layers.1.": "model.layers.0."}

    def renamed(p: LoraPair) -> LoraPair:
        for a, b in swap.items():
            if p.hf_name.startswith(a):
                return LoraPair(b + p.hf_name[len(a):], p.a, p.b)
        return p

    path = write_adapter(trained["dir"] / "names.gguf", [renamed(p) for p in trained["pairs"]],
                         trained["shape"], ALPHA)
    assert max_error(trained, f32_base, path, "torch_tuned") > TOLERANCE


def test_query_key_rows_are_permuted_into_gguf_order(trained, f32_base, monkeypatch):
    """q/k adapters alone: equal with the rotary row permutation, broken without it."""
    import bakeoff.tune.export as export

    path = write_adapter(trained["dir"] / "qk.gguf", trained["qk_pairs"], trained["shape"], ALPHA)
    assert max_error(trained, f32_base, path, "torch_qk") < TOLERANCE
    monkeypatch.setattr(export, "to_gguf_b", lambda pair, name, shape: pair.b)
    path = write_adapter(trained["dir"] / "qk-unpermuted.gguf", trained["qk_pairs"], trained["shape"], ALPHA)
    assert max_error(trained, f32_base, path, "torch_qk") > TOLERANCE


# --- the merged model (`bakeoff merge`, `tune --merge`) --------------------------------------------
# Greedy answers are compared position by position (teacher-forced over the prompts, so one early
# difference does not hide the rest) as top-1 agreement, and distributions as KL(base+adapter ||
# merged) in nats. F32: the merge is exact up to float summation order (same tolerance as above).
# Q4_1: the merged tensors are requantized to Q4_1, a fresh 4-bit rounding; that rounding is the
# whole difference. With this adapter on all seven projections (measured, n=34 positions): top-1
# 0.82, KL 0.091 nats, more than the adapter's own effect (KL 0.063 between base+adapter and the
# base alone): a 4-bit merge keeps the file small but loses a small adapter; F16 keeps it (KL 6e-6).
# A merge with twice the scale is much further off (KL 0.35, top-1 0.59).
MERGE_F32_TOLERANCE = TOLERANCE  # measured 0.006 nats
MIN_TOP1_AGREEMENT = 0.95      # F32 and F16 merges (measured 1.0)


def agreement(p: list[np.ndarray], q: list[np.ndarray]) -> tuple[float, float, int]:
    """(mean KL(p || q) in nats, share of positions with the same top-1 token, positions)."""
    p_all, q_all = np.concatenate(p), np.concatenate(q)
    kl = float(np.mean(np.sum(np.exp(p_all) * (p_all - q_all), axis=-1)))
    top1 = float(np.mean(p_all.argmax(-1) == q_all.argmax(-1)))
    return kl, top1, len(p_all)


@pytest.fixture(scope="module")
def adapter_file(trained):
    return write_adapter(trained["dir"] / "merge-src.gguf", trained["pairs"], trained["shape"], ALPHA)


def test_merged_f32_model_equals_base_plus_adapter(trained, f32_base, adapter_file):
    path, _ = f32_base
    merged = write_merged(path, adapter_file, trained["dir"] / "merged-f32.gguf")
    assert merged.merged_tensors == len(trained["pairs"]) and merged.tensor_type == "F32"
    want = position_logprobs(path, trained["tokens"], adapter_file)
    got = position_logprobs(merged.path, trained["tokens"], None)
    err = max(float(np.abs(w[i][np.argsort(-w[i])[:TOP]] - g[i][np.argsort(-w[i])[:TOP]]).max())
              for w, g in zip(want, got) for i in range(len(w)))
    kl, top1, n = agreement(want, got)
    print(f"merged F32: max |logprob diff| {err:.5f} nats, KL {kl:.2e}, top-1 agreement {top1:.3f} (n={n})")
    assert err < MERGE_F32_TOLERANCE and top1 == 1.0


def test_merged_q4_1_model_keeps_the_base_type_and_answers_like_base_plus_adapter(trained, f32_base,
                                                                                   adapter_file):
    import gguf

    base = trained["path"]
    merged = write_merged(base, adapter_file, trained["dir"] / "merged-q4_1.gguf", name="merged")
    types = {t.name: t.tensor_type for t in gguf.GGUFReader(str(base)).tensors}
    assert {t.name: t.tensor_type for t in gguf.GGUFReader(str(merged.path)).tensors} == types
    assert merged.tensor_type == "Q4_1" and abs(merged.size_bytes - base.stat().st_size) < 4096
    runtime = position_logprobs(base, trained["tokens"], adapter_file)
    kl, top1, n = agreement(runtime, position_logprobs(merged.path, trained["tokens"], None))
    noise, noise_top1, _ = agreement(position_logprobs(f32_base[0], trained["tokens"], adapter_file), runtime)
    wrong = write_merged(base, write_adapter(trained["dir"] / "merge-2x.gguf", trained["pairs"], trained["shape"],
                                             2 * ALPHA), trained["dir"] / "merged-2x.gguf")
    kl_wrong, top1_wrong, _ = agreement(runtime, position_logprobs(wrong.path, trained["tokens"], None))
    effect, top1_effect, _ = agreement(runtime, position_logprobs(base, trained["tokens"], None))
    print(f"merged Q4_1 vs base+adapter: KL {kl:.4f} nats, top-1 agreement {top1:.3f} (n={n}); "
          f"llama.cpp's activation rounding (F32 vs Q4_1 file, adapter at load): KL {noise:.4f}, "
          f"top-1 {noise_top1:.3f}; merged with 2x scale: KL {kl_wrong:.3f}, top-1 {top1_wrong:.3f}; "
          f"base without the adapter: KL {effect:.3f}, top-1 {top1_effect:.3f}")
    # Requantizing to 4 bits is a fresh rounding as large as a small adapter's effect (README), so
    # only relative checks hold: the right scale lands nearer base + adapter than twice the scale.
    assert kl_wrong > kl and top1 > top1_wrong


def test_merged_f16_model_is_f16_and_close_to_the_float_model(trained, f32_base, adapter_file):
    import gguf

    merged = write_merged(trained["path"], adapter_file, trained["dir"] / "merged-f16.gguf", "F16")
    kinds = {t.tensor_type for t in gguf.GGUFReader(str(merged.path)).tensors}
    assert kinds <= {gguf.GGMLQuantizationType.F16, gguf.GGMLQuantizationType.F32} and merged.tensor_type == "F16"
    want = position_logprobs(f32_base[0], trained["tokens"], adapter_file)
    kl, top1, n = agreement(want, position_logprobs(merged.path, trained["tokens"], None))
    print(f"merged F16 vs F32 base+adapter: KL {kl:.2e}, top-1 agreement {top1:.3f} (n={n})")
    assert top1 >= MIN_TOP1_AGREEMENT and kl < 1e-3
