"""Read GGUF metadata safely, without loading weights, and validate a file before llama.cpp sees it.

llama.cpp can abort the whole process on some corrupt files, so every check here happens in Python
with the `gguf` reader: magic, header, metadata, and that every tensor lies inside the file.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ModelFileError

GGUF_MAGIC = b"GGUF"
# Arrays longer than this are summarised rather than returned in full (the vocabulary, merges, ...).
_MAX_ARRAY_ITEMS = 16


@dataclass
class GGUFInfo:
    path: str
    file_size: int
    architecture: str
    name: str | None
    n_params: int
    quantization: str
    context_length: int | None
    n_layer: int | None
    n_embd: int | None
    n_head: int | None
    n_head_kv: int | None
    head_dim: int | None
    n_vocab: int | None
    sliding_window: int | None
    license: str | None
    chat_template: str | None
    n_tensors: int
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _field_value(f: Any) -> Any:
    """Decode one reader field into a plain Python value (arrays summarised)."""
    from gguf import GGUFValueType

    types = f.types
    if not types:
        return None
    if types[0] == GGUFValueType.ARRAY:
        n = len(f.data)
        sub = types[-1]
        items = []
        for idx in f.data[:_MAX_ARRAY_ITEMS]:
            part = f.parts[idx]
            items.append(bytes(part).decode("utf-8", "replace") if sub == GGUFValueType.STRING
                         else part.tolist()[0] if hasattr(part, "tolist") else part)
        return items if n <= _MAX_ARRAY_ITEMS else {"length": n, "first": items[:4]}
    part = f.parts[f.data[0]]
    if types[0] == GGUFValueType.STRING:
        return bytes(part).decode("utf-8", "replace")
    value = part.tolist()
    return value[0] if isinstance(value, list) and len(value) == 1 else value


def _quant_name(file_type: Any, tensor_types: list[Any]) -> str:
    from gguf import GGMLQuantizationType, LlamaFileType

    if isinstance(file_type, int):
        try:
            return LlamaFileType(file_type).name.removeprefix("MOSTLY_")
        except ValueError:
            pass
    # No or unknown file type: the most common type among 2-D weights.
    counts: dict[str, int] = {}
    for t in tensor_types:
        name = GGMLQuantizationType(t).name
        counts[name] = counts.get(name, 0) + 1
    return max(counts, key=counts.get) if counts else "unknown"


def _check_header(path: Path) -> int:
    if not path.exists():
        raise ModelFileError(str(path), "file not found", "check the path, or run `bakeoff models`")
    if path.is_dir():
        raise ModelFileError(str(path), "is a folder, not a GGUF file", "point at a .gguf file")
    size = path.stat().st_size
    try:
        with path.open("rb") as fh:
            head = fh.read(24)
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
    from gguf import GGUFReader

    try:
        reader = GGUFReader(path, "r")
    except (ValueError, IndexError, KeyError, OverflowError, MemoryError, TypeError, EOFError) as exc:
        raise ModelFileError(str(path), f"corrupt or truncated GGUF metadata ({type(exc).__name__}: "
                             f"{str(exc)[:120]})") from None
    except OSError as exc:
        raise ModelFileError(str(path), f"cannot be read: {exc}") from None
    try:
        return _build_info(path, size, reader)
    except ModelFileError:
        raise
    except Exception as exc:  # noqa: BLE001 - any parse failure means a corrupt file
        raise ModelFileError(str(path), f"corrupt GGUF metadata ({type(exc).__name__}: {str(exc)[:120]})") from None


def _check_tensors(path: Path, size: int, reader: Any) -> tuple[int, list[Any]]:
    n_params = 0
    types = []
    for t in reader.tensors:
        start = int(t.data_offset)
        end = start + int(t.n_bytes)
        if start < 0 or end > size:
            raise ModelFileError(
                str(path),
                f"truncated or corrupt: tensor {t.name!r} lies at bytes {start}-{end} but the file has "
                f"{size} bytes",
            )
        n_params += int(np.prod([int(x) for x in t.shape]))
        if len(t.shape) >= 2 and int(np.prod([int(x) for x in t.shape])) > 0:
            types.append(int(t.tensor_type))
    if not reader.tensors:
        raise ModelFileError(str(path), "has no tensors")
    return n_params, types


def _build_info(path: Path, size: int, reader: Any) -> GGUFInfo:
    meta: dict[str, Any] = {}
    for key, f in reader.fields.items():
        if key.startswith("GGUF."):
            continue
        meta[key] = _field_value(f)
    arch = meta.get("general.architecture")
    if not isinstance(arch, str) or not arch:
        raise ModelFileError(str(path), "corrupt GGUF metadata: general.architecture is missing")
    n_params, types = _check_tensors(path, size, reader)

    def hp(key: str) -> Any:
        v = meta.get(f"{arch}.{key}")
        return v if isinstance(v, int) else None

    n_head = hp("attention.head_count")
    n_embd = hp("embedding_length")
    head_dim = hp("attention.key_length") or (n_embd // n_head if n_embd and n_head else None)
    tokens = reader.fields.get("tokenizer.ggml.tokens")
    return GGUFInfo(
        path=str(path),
        file_size=size,
        architecture=arch,
        name=meta.get("general.name") if isinstance(meta.get("general.name"), str) else None,
        n_params=n_params,
        quantization=_quant_name(meta.get("general.file_type"), types),
        context_length=hp("context_length"),
        n_layer=hp("block_count"),
        n_embd=n_embd,
        n_head=n_head,
        n_head_kv=hp("attention.head_count_kv") or n_head,
        head_dim=head_dim,
        n_vocab=len(tokens.data) if tokens is not None else hp("vocab_size"),
        sliding_window=hp("attention.sliding_window"),
        license=meta.get("general.license") if isinstance(meta.get("general.license"), str) else None,
        chat_template=meta.get("tokenizer.chat_template") if isinstance(meta.get("tokenizer.chat_template"), str) else None,
        n_tensors=len(reader.tensors),
        metadata=meta,
    )
