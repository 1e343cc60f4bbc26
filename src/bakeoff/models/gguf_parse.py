"""A small, bounds-checked GGUF header parser (spec: ggml/docs/gguf.md).

The `gguf` package's reader builds a numpy view per array element, which takes seconds for a
262k-token vocabulary; listing models must be instant. This parser decodes scalars and strings,
skips long arrays after their first items, and checks every length against the file size so a
corrupt header fails here with a clear error instead of exhausting memory.
"""

from __future__ import annotations

import hashlib
import mmap
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# GGUF value types -> struct format (fixed-size ones).
_FIXED = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}
_STRING, _ARRAY = 8, 9
KEEP_ITEMS = 16  # array items decoded; the rest are counted only
MAX_ARRAY_DEPTH = 8  # real files nest one level at most; deeper nesting is corruption or an attack
MAX_KEY_BYTES = 65535        # the GGUF spec's limit on a key's length
MAX_STRING_BYTES = 1 << 20   # strings decoded; the longest real chat templates are tens of KiB


class GGUFParseError(ValueError):
    pass


@dataclass(frozen=True)
class Oversized:
    """A metadata string longer than MAX_STRING_BYTES, skipped unread: a 2 GB chat template cost
    gigabytes of memory and seconds each time a folder was listed."""

    nbytes: int

    def __str__(self) -> str:
        return f"({self.nbytes:,} bytes, over the {MAX_STRING_BYTES >> 20} MiB Bakeoff reads: not read)"


@dataclass
class TensorInfo:
    name: str
    shape: tuple[int, ...]
    ggml_type: int
    offset: int       # relative to the start of the tensor data section


@dataclass
class GGUFHeader:
    version: int
    metadata: dict[str, Any]
    array_lengths: dict[str, int]
    tensors: list[TensorInfo]
    data_start: int
    # blake2b of each array's encoded bytes: two files with the same digest for
    # tokenizer.ggml.tokens have the same vocabulary, without decoding 262k strings.
    array_digests: dict[str, str]


class _Cursor:
    def __init__(self, buf: Any, size: int):
        self.buf, self.size, self.pos = buf, size, 0

    def take(self, n: int) -> int:
        if n < 0 or self.pos + n > self.size:
            raise GGUFParseError(f"header runs past the end of the file at byte {self.pos} (+{n})")
        start = self.pos
        self.pos += n
        return start

    def unpack(self, fmt: str) -> Any:
        n = struct.calcsize("<" + fmt)
        return struct.unpack_from("<" + fmt, self.buf, self.take(n))[0]

    def string(self) -> str | Oversized:
        n = self.unpack("Q")
        start = self.take(n)
        if n > MAX_STRING_BYTES:
            return Oversized(n)
        return bytes(self.buf[start:start + n]).decode("utf-8", "replace")

    def key(self) -> str:
        n = self.unpack("Q")
        if n > MAX_KEY_BYTES:
            raise GGUFParseError(f"a metadata key of {n} bytes at byte {self.pos} (at most {MAX_KEY_BYTES})")
        start = self.take(n)
        return bytes(self.buf[start:start + n]).decode("utf-8", "replace")

    def value(self, vtype: int) -> Any:
        if vtype in _FIXED:
            return self.unpack(_FIXED[vtype])
        if vtype == _STRING:
            return self.string()
        raise GGUFParseError(f"unknown metadata value type {vtype}")

    def array(self, depth: int = 0) -> tuple[list[Any], int]:
        if depth > MAX_ARRAY_DEPTH:
            raise GGUFParseError(f"metadata arrays nested more than {MAX_ARRAY_DEPTH} deep at byte {self.pos}")
        etype, count = self.unpack("I"), self.unpack("Q")
        if etype in _FIXED:
            width = struct.calcsize("<" + _FIXED[etype])
            keep = min(count, KEEP_ITEMS)
            start = self.take(width * count)
            items = list(struct.unpack_from(f"<{keep}{_FIXED[etype]}", self.buf, start)) if keep else []
            return items, count
        if etype == _STRING:
            items = []
            for i in range(count):
                if i < KEEP_ITEMS:
                    items.append(self.string())
                else:
                    self.take(self.unpack("Q"))
            return items, count
        if etype == _ARRAY:
            if count * 12 > self.size - self.pos:  # each inner array needs >= 12 bytes
                raise GGUFParseError(f"array of {count} arrays at byte {self.pos} cannot fit in the file")
            for _ in range(count):
                self.array(depth + 1)
            return [], count
        raise GGUFParseError(f"unknown array element type {etype}")


def parse_header(path: Path) -> GGUFHeader:
    with path.open("rb") as fh:
        size = path.stat().st_size
        with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as buf:
            return _parse(_Cursor(buf, size))


def _parse(cur: _Cursor) -> GGUFHeader:
    if bytes(cur.buf[0:4]) != b"GGUF":
        raise GGUFParseError("bad magic")
    cur.take(4)
    version = cur.unpack("I")
    if version not in (2, 3):
        raise GGUFParseError(f"unsupported GGUF version {version}")
    n_tensors, n_kv = cur.unpack("Q"), cur.unpack("Q")
    # Each KV needs >= 12 bytes and each tensor info >= 24: reject absurd counts before looping.
    if n_kv * 12 + n_tensors * 24 > cur.size:
        raise GGUFParseError(f"header claims {n_kv} metadata keys and {n_tensors} tensors, "
                             f"more than a {cur.size}-byte file can hold")
    meta: dict[str, Any] = {}
    lengths: dict[str, int] = {}
    digests: dict[str, str] = {}
    for _ in range(n_kv):
        key = cur.key()
        vtype = cur.unpack("I")
        if vtype == _ARRAY:
            start = cur.pos
            items, count = cur.array()
            meta[key], lengths[key] = items, count
            digests[key] = hashlib.blake2b(cur.buf[start:cur.pos], digest_size=16).hexdigest()
        else:
            meta[key] = cur.value(vtype)
    tensors = []
    for _ in range(n_tensors):
        name = cur.key()
        n_dims = cur.unpack("I")
        if n_dims > 8:
            raise GGUFParseError(f"tensor {name!r} claims {n_dims} dimensions")
        shape = tuple(cur.unpack("Q") for _ in range(n_dims))
        tensors.append(TensorInfo(name, shape, cur.unpack("I"), cur.unpack("Q")))
    align = meta.get("general.alignment", 32)
    if not isinstance(align, int) or align <= 0 or align & (align - 1):
        raise GGUFParseError(f"invalid general.alignment {align!r}")
    data_start = (cur.pos + align - 1) // align * align
    return GGUFHeader(version, meta, lengths, tensors, data_start, digests)


def tensor_nbytes(t: TensorInfo) -> int:
    from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType

    try:
        block, type_size = GGML_QUANT_SIZES[GGMLQuantizationType(t.ggml_type)]
    except (ValueError, KeyError):
        raise GGUFParseError(f"tensor {t.name!r} has unknown type {t.ggml_type}") from None
    n = 1
    for d in t.shape:
        n *= d
    if t.shape and t.shape[0] % block:
        raise GGUFParseError(f"tensor {t.name!r} row of {t.shape[0]} is not a multiple of block {block}")
    return n // block * type_size
