"""Draft/target compatibility is decided from GGUF headers alone, with errors that say what differs."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bakeoff.engines.draft import check_pair, tokenizer_difference
from bakeoff.errors import DraftModelError
from bakeoff.models.gguf_info import read_gguf_info
from bakeoff.models.ref import ModelRef


@pytest.fixture
def info(smollm2_path):
    return read_gguf_info(smollm2_path)


def ref(name: str) -> ModelRef:
    return ModelRef(name=name, engine="llamacpp", source="file", path=f"/m/{name}.gguf")


def test_the_same_tokenizer_matches_and_header_digests_cover_the_vocabulary(info):
    assert tokenizer_difference(info, replace(info)) is None
    assert len(info.array_digests["tokenizer.ggml.tokens"]) == 32


@pytest.mark.parametrize("change, says", [
    (lambda i: replace(i, n_vocab=i.n_vocab + 1), "vocabularies of"),
    (lambda i: replace(i, array_digests={**i.array_digests, "tokenizer.ggml.tokens": "0" * 32}),
     "tokenizer.ggml.tokens differs"),
    (lambda i: replace(i, metadata={**i.metadata, "tokenizer.ggml.eos_token_id": 7}),
     "tokenizer.ggml.eos_token_id is 7 in the draft"),
    (lambda i: replace(i, metadata={**i.metadata, "tokenizer.ggml.pre": "llama3"}), "tokenizer.ggml.pre"),
])
def test_any_tokenizer_difference_is_named(info, change, says):
    diff = tokenizer_difference(info, change(info))
    assert diff is not None and says in diff


def test_the_draft_must_be_smaller_and_another_file(info):
    small = replace(info, path="/m/small.gguf", file_size=info.file_size // 2)
    check_pair(ref("big"), info, ref("small"), small)   # passes
    with pytest.raises(DraftModelError, match="not smaller") as err:
        check_pair(ref("small"), small, ref("big"), replace(info, path="/m/big.gguf"))
    assert err.value.param == "draft" and "swap" in err.value.hint
    with pytest.raises(DraftModelError, match="same file"):
        check_pair(ref("a"), info, ref("b"), info)
    more_params = replace(small, n_params=info.n_params * 2)
    with pytest.raises(DraftModelError, match="not smaller"):
        check_pair(ref("big"), info, ref("wide"), more_params)
