"""Read GGUF metadata safely, without loading weights, and validate a file before llama.cpp sees it.

llama.cpp can abort the whole process on some corrupt files, so every check happens here first:
magic, header, metadata, and that every tensor (offset + size from its type) lies inside the file.
"""

from __future__ import annotations

import math
import os
import stat
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ModelFileError
from .gguf_parse import GGUFHeader, GGUFParseError, parse_header, tensor_nbytes

GGUF_MAGIC = b"GGUF"


@dataclass
class ModelShape:
    """What the memory and speed estimates need to know about a model (models/fit.py): read from
    its GGUF file (GGUFInfo is one), or from the catalog for a model not downloaded."""

    architecture: str
    n_layer: int | None = None
    n_embd: int | None = None
    n_head: int | None = None
    n_head_kv: int | None = None
    head_dim: int | None = None
    n_vocab: int | None = None
    sliding_window: int | None = None


@dataclass(kw_only=True)
class GGUFInfo(ModelShape):
    path: str
    file_size: int
    name: str | None
    n_params: int
    quantization: str
    context_length: int | None
    license: str | None
    chat_template: str | None
    n_tensors: int
    metadata: dict[str, Any] = field(default_factory=dict)
    array_digests: dict[str, str] = field(default_factory=dict)   # see GGUFHeader.array_digests

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _quant_name(file_type: Any, tensor_types: list[int]) -> str:
    from gguf import GGMLQuantizationType, LlamaFileType

    if isinstance(file_type, int):
        try:
            return LlamaFileType(file_type).name.removeprefix("MOSTLY_")
        except ValueError:
            pass
    # No or unknown file type: the most common type among 2-D weights.
    counts: dict[str, int] = {}
    for t in tensor_types:
        try:
            name = GGMLQuantizationType(t).name
        except ValueError:
            continue
        counts[name] = counts.get(name, 0) + 1
    return max(counts, key=lambda name: counts[name]) if counts else "unknown"


def _check_header(path: Path) -> int:
    if not path.exists():
        raise ModelFileError(str(path), "file not found", "check the path, or run `bakeoff models`")
    if path.is_dir():
        raise ModelFileError(str(path), "is a folder, not a GGUF file", "point at a .gguf file")
    try:
        size, head = _read_head(path)
    except OSError as exc:
        raise ModelFileError(str(path), f"cannot be read: {exc.strerror}", "check its permissions") from None
    if head[:4] != GGUF_MAGIC:
        raise ModelFileError(
            str(path), f"not a GGUF file (starts with {head[:4]!r}, expected b'GGUF')",
            "convert it with llama.cpp's convert_hf_to_gguf.py or download a .gguf build",
        )
    if len(head) < 24:
        raise ModelFileError(str(path), f"truncated: only {size} bytes, too short for a GGUF header")
    return size


def _read_head(path: Path) -> tuple[int, bytes]:
    """The file's size and first 24 bytes. Opened without blocking and checked to be a regular
    file before reading: a FIFO or a device named *.gguf would otherwise hang the reader."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ModelFileError(str(path), "is not a regular file (a pipe, socket or device?)",
                                 "point at a .gguf file, or remove this entry from the models folder")
        return st.st_size, os.pread(fd, 24, 0)
    finally:
        os.close(fd)


# Parsing a 49k-token vocabulary takes seconds on a busy 2-core machine, and listing, matching and
# loading all read the same file: results are cached per (path, size, mtime), so a changed file is
# read again.
_CACHE: dict[tuple[str, int, int], GGUFInfo] = {}
_CACHE_MAX = 32


def read_gguf_info(path: str | os.PathLike[str]) -> GGUFInfo:
    """Validate `path` and return its metadata. Raises ModelFileError with the problem and the fix."""
    path = Path(path)
    size = _check_header(path)
    key = (str(path.resolve()), size, path.stat().st_mtime_ns)
    if key not in _CACHE:
        if len(_CACHE) >= _CACHE_MAX:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = _read_uncached(path, size)
    return _CACHE[key]


def _read_uncached(path: Path, size: int) -> GGUFInfo:
    try:
        header = parse_header(path)
    except GGUFParseError as exc:
        raise ModelFileError(str(path), f"corrupt or truncated GGUF header: {exc}") from None
    except OSError as exc:
        raise ModelFileError(str(path), f"cannot be read: {exc}") from None
    try:
        n_params, types = _check_tensors(path, size, header)
    except GGUFParseError as exc:
        raise ModelFileError(str(path), f"corrupt GGUF tensor table: {exc}") from None
    return _build_info(path, size, header, n_params, types)


def _check_tensors(path: Path, size: int, header: GGUFHeader) -> tuple[int, list[int]]:
    if not header.tensors:
        raise ModelFileError(str(path), "has no tensors")
    n_params = 0
    types = []
    for t in header.tensors:
        start = header.data_start + t.offset
        end = start + tensor_nbytes(t)
        if end > size:
            raise ModelFileError(
                str(path),
                f"truncated or corrupt: tensor {t.name!r} lies at bytes {start}-{end} but the file has "
                f"{size} bytes",
            )
        count = math.prod(int(d) for d in t.shape)
        n_params += count
        if len(t.shape) >= 2:
            types.append(t.ggml_type)
    return n_params, types


def _build_info(path: Path, size: int, header: GGUFHeader, n_params: int, types: list[int]) -> GGUFInfo:
    meta: dict[str, Any] = {}
    for key, value in header.metadata.items():
        n = header.array_lengths.get(key)
        meta[key] = value if n is None or n <= len(value) else {"length": n, "first": value[:4]}
    arch = meta.get("general.architecture")
    if not isinstance(arch, str) or not arch:
        raise ModelFileError(str(path), "corrupt GGUF metadata: general.architecture is missing")

    def hp(key: str) -> Any:
        v = meta.get(f"{arch}.{key}")
        return v if isinstance(v, int) and not isinstance(v, bool) else None

    def text(key: str) -> str | None:
        v = meta.get(key)
        return v if isinstance(v, str) else None

    n_head = hp("attention.head_count")
    n_embd = hp("embedding_length")
    head_dim = hp("attention.key_length") or (n_embd // n_head if n_embd and n_head else None)
    return GGUFInfo(
        path=str(path), file_size=size, architecture=arch, name=text("general.name"),
        n_params=n_params, quantization=_quant_name(meta.get("general.file_type"), types),
        context_length=hp("context_length"), n_layer=hp("block_count"), n_embd=n_embd,
        n_head=n_head, n_head_kv=hp("attention.head_count_kv") or n_head, head_dim=head_dim,
        n_vocab=header.array_lengths.get("tokenizer.ggml.tokens") or hp("vocab_size"),
        sliding_window=hp("attention.sliding_window"), license=text("general.license"),
        chat_template=text("tokenizer.chat_template"), n_tensors=len(header.tensors), metadata=meta,
        array_digests=header.array_digests,
    )
