"""Every catalog architecture runs through the engine: tiny random-weight GGUF files for the llama
layout (Llama 2, Mistral), a Mixtral-style mixture of experts, Falcon (multi-query attention), OLMo
and Gemma, each found by the registry and generating tokens."""

from __future__ import annotations

from pathlib import Path

import pytest

from bakeoff.engines import GenParams, LoadOptions, collect, open_engine
from bakeoff.models.gguf_info import read_gguf_info
from bakeoff.models.registry import Registry
from tinygguf import SPECS, write_tiny

EXPECTED = {"llama": ("llama", 2, None), "mixtral": ("llama", 2, 4), "falcon": ("falcon", 1, None),
            "olmo": ("olmo", 4, None), "gemma": ("gemma", 1, None)}


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory, smollm2_path: Path) -> Path:
    folder = tmp_path_factory.mktemp("tiny-gguf")
    for kind in SPECS:
        write_tiny(kind, folder / f"tiny-{kind}.gguf", smollm2_path)
    return folder


@pytest.mark.parametrize("kind", list(EXPECTED))
def test_tiny_architecture_generates_tokens(kind: str, tiny_dir: Path, bakeoff_home: Path) -> None:
    (bakeoff_home / "models" / f"tiny-{kind}.gguf").symlink_to(tiny_dir / f"tiny-{kind}.gguf")
    ref = Registry().resolve(f"tiny-{kind}")
    assert ref.source == "local"
    info = read_gguf_info(ref.path)
    arch, kv_heads, experts = EXPECTED[kind]
    assert (info.architecture, info.n_head_kv, info.n_layer, info.n_embd) == (arch, kv_heads, 2, 64)
    assert info.metadata.get(f"{arch}.expert_count") == experts
    engine = open_engine(ref, LoadOptions(n_ctx=256))
    try:
        resp = collect(engine.complete("Once upon a time", GenParams.build(max_tokens=8, temperature=0)))
    finally:
        engine.close()
    assert resp.usage.prompt_tokens > 0
    assert resp.usage.completion_tokens == 8 and resp.finish_reason == "length"
    assert resp.text
