"""Corrupt and truncated model files give one clear error, never a crash (validated before llama.cpp)."""

import struct

import pytest

from bakeoff.errors import ModelFileError
from bakeoff.models.gguf_info import read_gguf_info


def truncate(src, dst, fraction):
    data = src.read_bytes()
    dst.write_bytes(data[: int(len(data) * fraction)])
    return dst


def test_real_model_metadata(smollm2_path):
    info = read_gguf_info(smollm2_path)
    assert info.architecture == "llama"
    assert info.quantization == "Q4_1"
    assert 130e6 < info.n_params < 140e6
    assert info.context_length == 8192
    assert info.license == "apache-2.0"
    assert "<|im_start|>" in info.chat_template


def test_missing_file(tmp_path):
    with pytest.raises(ModelFileError, match="file not found"):
        read_gguf_info(tmp_path / "nope.gguf")


def test_not_gguf(tmp_path):
    p = tmp_path / "notes.gguf"
    p.write_text("hello world, definitely not a model")
    with pytest.raises(ModelFileError, match="not a GGUF file"):
        read_gguf_info(p)


@pytest.mark.parametrize("fraction", [0.10, 0.50, 0.99])
def test_truncated(tmp_path, smollm2_path, fraction):
    p = truncate(smollm2_path, tmp_path / f"cut{fraction}.gguf", fraction)
    with pytest.raises(ModelFileError, match="truncated|corrupt"):
        read_gguf_info(p)


def test_garbage_metadata(tmp_path, smollm2_path):
    data = bytearray(smollm2_path.read_bytes()[: 1 << 20])
    data[24:4096] = bytes((i * 37 + 11) % 256 for i in range(24, 4096))
    p = tmp_path / "garbage.gguf"
    p.write_bytes(bytes(data))
    with pytest.raises(ModelFileError):
        read_gguf_info(p)


def test_tensor_offset_past_end(tmp_path, smollm2_path):
    """A header claiming a huge tensor-data alignment pushes every tensor past the end."""
    import gguf

    reader = gguf.GGUFReader(smollm2_path)
    first = reader.tensors[0]
    data = bytearray(smollm2_path.read_bytes())
    # The first tensor-info's offset field is the 8 bytes after its type; rewrite it to 2^40.
    field_off = first.field.offset + sum(p.nbytes for p in first.field.parts[:-1])
    struct.pack_into("<Q", data, field_off, 1 << 40)
    p = tmp_path / "offsets.gguf"
    p.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="tensor"):
        read_gguf_info(p)


def _nested_arrays(depth: int) -> bytes:
    """A GGUF header with one metadata key holding arrays nested `depth` deep."""
    key = b"evil.nested"
    head = b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + struct.pack("<Q", len(key)) + key + struct.pack("<I", 9)
    nest = struct.pack("<IQ", 9, 1) * depth + struct.pack("<IQ", 4, 0)
    return head + nest + bytes(64)


def test_deeply_nested_metadata_arrays_are_a_clear_error(tmp_path):
    p = tmp_path / "nested.gguf"
    p.write_bytes(_nested_arrays(100_000))
    with pytest.raises(ModelFileError, match="nested more than"):
        read_gguf_info(p)


def _list_models_in_thread():
    import threading

    from bakeoff.cli.models import list_models

    result: list = []
    worker = threading.Thread(target=lambda: result.append(list_models()), daemon=True)
    worker.start()
    worker.join(120)   # before the fix this never returned
    assert not worker.is_alive(), "listing models hung"
    return {r["name"]: r for r in result[0]}


def test_a_fifo_or_a_corrupt_file_does_not_break_listing_the_others(bakeoff_home, tmp_path, smollm2_path):
    import os

    models = bakeoff_home / "models"
    fifo = models / "pipe.gguf"
    os.mkfifo(fifo)
    (models / "nested.gguf").write_bytes(_nested_arrays(100_000))
    from tinygguf import write_tiny

    write_tiny("llama", models / "good.gguf", smollm2_path)
    try:
        rows = _list_models_in_thread()
    finally:  # a reader still blocked on the FIFO (a regression) is released
        os.close(os.open(fifo, os.O_RDWR | os.O_NONBLOCK))
    assert rows["pipe"]["status"].startswith("invalid: is not a regular file")
    assert rows["nested"]["status"].startswith("invalid: corrupt")
    assert rows["good"]["status"] == "ok"
    with pytest.raises(ModelFileError, match="not a regular file"):
        read_gguf_info(fifo)


def test_a_huge_chat_template_is_not_read_when_listing(tmp_path, smollm2_path):
    """Metadata strings were decoded whole: a 2 GB chat template cost gigabytes at every listing.
    One past the limit is skipped unread, shown by its size, and refused when the model chats."""
    from bakeoff.engines.base import Message
    from bakeoff.engines.factory import open_engine
    from bakeoff.engines.options import LoadOptions
    from bakeoff.errors import ChatTemplateError
    from bakeoff.models.gguf_parse import MAX_STRING_BYTES, Oversized
    from bakeoff.models.ref import ModelRef
    from tinygguf import write_minimal, write_tiny

    big = "{# " + "x" * MAX_STRING_BYTES + " #}{{ messages[0].content }}"
    info = read_gguf_info(write_minimal(tmp_path / "listed.gguf", **{"tokenizer.chat_template": big}))
    assert info.metadata["tokenizer.chat_template"] == Oversized(len(big))
    assert info.chat_template is None and "not read" in str(info.metadata["tokenizer.chat_template"])
    path = write_tiny("llama", tmp_path / "tiny.gguf", smollm2_path, chat_template=big)
    engine = open_engine(ModelRef(name="tiny", engine="llamacpp", source="file", path=str(path)),
                         LoadOptions(n_ctx=256))
    try:
        with pytest.raises(ChatTemplateError, match=f"{len(big):,} bytes long"):
            engine.chat_tokens([Message(role="user", content="hi")])
    finally:
        engine.close()


def test_a_huge_metadata_key_is_a_clear_error(tmp_path):
    from tinygguf import write_minimal

    with pytest.raises(ModelFileError, match="metadata key of 70000 bytes"):
        read_gguf_info(write_minimal(tmp_path / "k.gguf", **{"k" * 70000: "v"}))


def test_hashing_a_pipe_or_device_is_refused_not_a_hang(tmp_path):
    """`bakeoff pull` hashes a file already at its target, and the duplicate check hashes store
    files: a FIFO there blocked for ever, /dev/zero never ended."""
    import os
    from pathlib import Path

    from bakeoff.models.packaged import sha256_file

    fifo = tmp_path / "model.gguf"
    os.mkfifo(fifo)
    for path in (fifo, Path("/dev/zero")):
        with pytest.raises(OSError, match="not a regular file"):
            sha256_file(path)


def test_show_says_unknown_for_facts_a_file_lacks_or_mistypes(bakeoff_home, capsys):
    """Probe 5: a context length stored as a string (or absent) was shown as Python's 'None'."""
    import numpy as np
    from gguf import GGUFWriter

    from cli_run import run

    w = GGUFWriter(str(bakeoff_home / "models" / "typed.gguf"), "llama")
    w.add_string("llama.context_length", "4096")
    w.add_tensor("token_embd.weight", np.zeros((4, 32), np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    code, out, err = run(capsys, "show", "typed")
    assert code == 0, err
    assert "context length" in out and "None" not in out, out
