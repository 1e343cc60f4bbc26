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

PROMPTS = ["The capital of France is", "def fibonacci(n):", "<|im_start|>user\nName three colors.<|im_end|>\n"
           "<|im_start|>assistant\n", "Once upon a time, in a small village,"]
TOP = 10
TOLERANCE = 0.02      # nats: max |logprob_llama - logprob_torch| on the F32 base, top tokens
QUANT_TOLERANCE = 0.5  # relative L2 error of the adapter's effect on the Q4_1 base
MIN_EFFECT = 1.0      # nats: the adapter must move the distribution by at least this much
ALPHA, RANK = 16.0, 8
QK = ("q_proj", "k_proj")


@pytest.fixture(scope="module")
def trained(smollm2_path: Path, tmp_path_factory):
    """A LoRA with random, non-zero A and B on every projection (a trained adapter's stand-in that
    moves every layer), the PyTorch log-probs with and without it, and its exported pairs."""
    from peft import LoraConfig, get_peft_model

    from bakeoff.engines.llama_lowlevel import VocabOnly
    from bakeoff.tune.config import DEFAULT_TARGETS
    from bakeoff.tune.train import load_base

    torch.manual_seed(0)
    info = read_gguf_info(str(smollm2_path))
    model = get_peft_model(load_base(info), LoraConfig(r=RANK, lora_alpha=ALPHA, target_modules=DEFAULT_TARGETS,
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
    from bakeoff.engines import LoadOptions, open_engine

    ref = ModelRef("smollm2", "llamacpp", "file", path=str(path))
    engine = open_engine(ref, LoadOptions(n_ctx=256, threads=2,
                                          adapters=(Adapter(str(adapter)),) if adapter else ()))
    try:
        out = []
        for t in tokens:
            engine.h.clear()
            engine.h.decode_sequence(t, 0)
            out.append(log_softmax(engine.h.logits(-1).astype(np.float64)))
        return out
    finally:
        engine.close()


def f32_copy(src: Path, dst: Path) -> Path:
    """The same model with every tensor dequantized to F32 (metadata copied as it is)."""
    import gguf

    reader = gguf.GGUFReader(str(src))
    arch = reader.fields["general.architecture"].contents()
    writer = gguf.GGUFWriter(str(dst), arch)
    for key, field in reader.fields.items():
        if key.startswith("GGUF.") or key in ("general.architecture", "general.file_type"):
            continue
        vtype = field.types[0]
        sub = field.types[-1] if vtype == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(key, field.contents(), vtype, sub_type=sub)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    for t in reader.tensors:
        data = gguf.quants.dequantize(t.data, t.tensor_type).astype(np.float32)
        writer.add_tensor(t.name, data.reshape([int(x) for x in reversed(t.shape)]))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return dst


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
    assert effect > MIN_EFFECT and rel < QUANT_TOLERANCE


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
