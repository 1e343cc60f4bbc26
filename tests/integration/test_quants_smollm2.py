"""Quantization from evidence on real llama.cpp: copies of the embedded SmolLM2 (Q4_1) made with
llama.cpp's quantizer, KL divergence through our engine's logits, `bakeoff quants` end to end.

The embedded SmolLM2 is Q4_1, so the Q8_0 copy used as the reference is itself lossy (no better
than Q4_1): these tests check mechanics and definitions, not how good a quant type is."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from scipy.special import log_softmax, rel_entr

from bakeoff.engines.factory import open_engine
from bakeoff.engines.options import LoadOptions
from bakeoff.evals import kld as K
from bakeoff.models.ref import ModelRef
from cli_run import run, run_json

TEXT = (Path(__file__).parent / "test_quants_smollm2.py").read_text()   # plenty of varied tokens
SUITE = """\
name: quant-mini
prompt: "{{q}}"
params: {max_tokens: 8}
cases:
  - {id: paris, vars: {q: "What is the capital of France?"}, assert: [{type: icontains, value: paris}]}
  - {id: add, vars: {q: "What is 2 + 2? Answer with a number."}, assert: [{type: contains, value: "4"}]}
  - {id: color, vars: {q: "What colour is the sky on a clear day?"}, assert: [{type: icontains, value: blue}]}
"""


@pytest.fixture(scope="session")
def quant_dir(tmp_path_factory: pytest.TempPathFactory, smollm2_path: Path) -> Path:
    """Q8_0 (the reference) and Q4_K_M, Q5_K_M copies, made once per session."""
    from bakeoff.engines.quantize import quantize

    folder = tmp_path_factory.mktemp("quants")
    quantize(smollm2_path, ["Q8_0", "Q5_K_M", "Q4_K_M"], folder, threads=2)
    return folder


def ref_of(path: Path) -> ModelRef:
    return ModelRef(name=path.stem, engine="llamacpp", source="file", path=str(path))


def test_quantize_cli_names_warns_resumes_and_lists_valid_types(
        quant_dir: Path, smollm2_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    out.mkdir()
    shutil.copyfile(quant_dir / "SmolLM2-135M-Instruct-Q8_0.gguf", out / "SmolLM2-135M-Instruct-Q8_0.gguf")
    data = run_json(capsys, "quantize", str(smollm2_path), "--to", "q8_0", "--out-dir", str(out))
    assert data["files"] == [{"type": "Q8_0", "path": str(out / "SmolLM2-135M-Instruct-Q8_0.gguf"),
                              "size_bytes": (out / "SmolLM2-135M-Instruct-Q8_0.gguf").stat().st_size,
                              "created": False}]          # already there: kept, not redone
    assert "the source is Q4_1, already lossy" in data["warning"]
    code, _, err = run(capsys, "quantize", str(smollm2_path), "--to", "Q4_K_X,Q5_K_M")
    assert code == 2 and "unknown quantization type 'Q4_K_X'" in err
    assert "did you mean" in err and "Q4_K_M" in err and "valid types: F32, BF16, F16, Q8_0, Q6_K" in err
    assert not list(out.glob("*Q5_K_M*"))                  # nothing was made


def test_quantized_files_load_and_say_what_they_are(quant_dir: Path) -> None:
    from bakeoff.models.gguf_info import read_gguf_info

    sizes = {}
    for t in ("Q8_0", "Q5_K_M", "Q4_K_M"):
        path = quant_dir / f"SmolLM2-135M-Instruct-{t}.gguf"
        assert read_gguf_info(str(path)).quantization == t
        assert json.loads(path.with_name(path.name + ".source.json").read_text())["source_quantization"] == "Q4_1"
        sizes[t] = path.stat().st_size
    assert sizes["Q8_0"] > sizes["Q5_K_M"] > sizes["Q4_K_M"]


def test_kld_matches_its_definition_and_is_zero_against_itself(quant_dir: Path, tmp_path: Path) -> None:
    ref = open_engine(ref_of(quant_dir / "SmolLM2-135M-Instruct-Q8_0.gguf"), LoadOptions(n_ctx=64))
    q4 = open_engine(ref_of(quant_dir / "SmolLM2-135M-Instruct-Q4_K_M.gguf"), LoadOptions(n_ctx=64))
    assert ref.supports_window_logprobs
    try:
        cache = K.ReferenceLogprobs(tmp_path, "k")
        parts, ref_lp = cache.build(ref, TEXT, 64, 2)
        assert len(parts) == 2 and ref_lp.shape == (2, 31, ref.h.n_vocab)
        # SmolLM2 adds no BOS, so (as in llama-perplexity) chunks are plain slices of the text.
        assert ref.bos_token is None and parts == [ref.tokenize(TEXT)[i * 64:(i + 1) * 64] for i in (0, 1)]
        itself = K.kld_against(ref, parts, ref_lp)
        assert itself.n == 62 and itself.top1 == 1.0 and abs(itself.mean) < 2e-3
        stats = K.kld_against(q4, parts, ref_lp)
        # The same numbers straight from the definition, with scipy, on full-precision logits.
        klds, same = [], []
        for chunk in parts:
            lr = log_softmax(ref.window_logprobs(chunk, 32).astype(np.float64), axis=1)
            lq = q4.window_logprobs(chunk, 32).astype(np.float64)
            klds.extend(rel_entr(np.exp(lr), np.exp(lq)).sum(axis=1))
            same.extend(lr.argmax(1) == lq.argmax(1))
        assert stats.mean == pytest.approx(np.mean(klds), rel=0.02, abs=1e-3)
        assert stats.top1 == pytest.approx(np.mean(same), abs=1 / 62)
        assert 0 < stats.mean and 0.3 < stats.top1 < 1.0
        assert stats.se == pytest.approx(np.std(klds, ddof=0) / np.sqrt(61), rel=0.05)
    finally:
        ref.close()
        q4.close()


def test_quants_recommends_from_evidence_and_resumes(quant_dir: Path, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from bakeoff.evals import quants as Q

    suite = tmp_path / "mini.yaml"
    suite.write_text(SUITE)
    text = tmp_path / "sample.txt"
    text.write_text(TEXT)
    reference = str(quant_dir / "SmolLM2-135M-Instruct-Q8_0.gguf")
    args = ["quants", reference, "--suite", str(suite), "--text", str(text), "--kld-ctx", "64",
            "--kld-chunks", "2", "--no-speed"]
    calls: list[str] = []
    real = Q.kld_against

    def interrupted(model, parts, ref):  # the second quant's KLD is cut short
        calls.append(model.ref.name)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(model, parts, ref)

    monkeypatch.setattr(Q, "kld_against", interrupted)
    with pytest.raises(KeyboardInterrupt):
        Q.sweep(reference, None, Q.QuantOptions(suite=str(suite), text=text, kld_ctx=64,
                                                kld_chunks=2, speed=False))
    calls.clear()
    monkeypatch.setattr(Q, "kld_against", lambda m, p, r: (calls.append(m.ref.name), real(m, p, r))[1])
    data = run_json(capsys, *args, "--max-kld", "10")
    assert len(calls) == 1                                 # only the quant that had not finished
    rows = {r["model"]: r for r in data["rows"]}
    assert list(rows) == ["SmolLM2-135M-Instruct-Q8_0", "SmolLM2-135M-Instruct-Q5_K_M",
                          "SmolLM2-135M-Instruct-Q4_K_M"]
    q4 = rows["SmolLM2-135M-Instruct-Q4_K_M"]
    assert q4["vs_reference"]["n"] == 3 and q4["kld"]["n"] == 62 and q4["size_bytes"] > 0
    # With a loose KLD bar and 3 cases nothing is significantly worse: the smallest file wins.
    assert data["recommended"] == "SmolLM2-135M-Instruct-Q4_K_M" and q4["verdict"] == "recommended"
    assert "smallest acceptable quant" in data["why"]
    assert any("made from a Q4_1 file" in n and "itself lossy" in n for n in data["notes"])
    # The sweep is kept: `recommend` now plans SmolLM2 at the quant it chose, and says why.
    rec = run_json(capsys, "recommend", "--task", "chat", "--max-memory", "1GiB", "--top", "20")
    smol = next(c for c in rec["front"] + rec["dominated"] if c["id"] == "smollm2-135m-instruct")
    assert smol["quantization"] == "Q4_K_M" and smol["quant_measured"] and data["evidence_id"]
    assert f"suite quant-mini (run {data['run']})" in smol["quant_basis"]
    assert "discordant of 3 cases" in smol["quant_basis"] and "top-1 agreement" in smol["quant_basis"]

    strict = run_json(capsys, *args, "--max-kld", "0.000001")     # nothing passes the bar
    assert strict["recommended"] == "SmolLM2-135M-Instruct-Q8_0" and "keep the reference" in strict["why"]
    assert all(r["verdict"].startswith("rejected: mean KLD") for r in strict["rows"][1:])
    code, out, _ = run(capsys, *args)
    assert code == 0 and "recommendation: SmolLM2-135M-Instruct-Q" in out and "top-1" in out
