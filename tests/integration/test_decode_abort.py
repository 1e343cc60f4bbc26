"""A decode can be stopped midway (a request in it was dropped): llama.cpp then applies none of the
batch, every sequence keeps exactly the cells it had, and the same batch decodes normally after."""

from __future__ import annotations

import pytest

from bakeoff.engines.llama_lowlevel import LlamaHandle
from bakeoff.errors import DecodeAborted


@pytest.fixture(scope="module")
def handle(smollm2_path):
    h = LlamaHandle(str(smollm2_path), n_ctx=2048, n_threads=1, n_seq_max=2, n_batch=512)
    yield h
    h.close()


def cells(h: LlamaHandle, seq: int) -> int:
    return int(h.ll.llama_memory_seq_pos_max(h.mem, seq)) + 1


def test_an_aborted_decode_applies_nothing_and_the_batch_can_be_decoded_again(handle) -> None:
    h = handle
    h.clear()
    h.decode(list(range(100, 110)), range(10), [0] * 10, [False] * 9 + [True])
    batch = ([7] * 300 + [11], [*range(300), 10], [1] * 300 + [0], [False] * 299 + [True, True])
    h.abort()
    with pytest.raises(DecodeAborted):
        h.decode(*batch)
    assert (cells(h, 0), cells(h, 1)) == (10, 0)
    h.clear_abort()
    h.decode(*batch)
    assert (cells(h, 0), cells(h, 1)) == (11, 300)
