"""Fold a LoRA adapter into its base: one standalone GGUF that runs without the adapter.

The arithmetic is llama.cpp's (its export-lora tool and the adapter loader agree on it): for every
base tensor W that the adapter names W.lora_a / W.lora_b,

    W' = W + s · B·A,   s = alpha / rank   (rank = lora_b's ne[0]; no alpha key: s = 1)

with A stored as [rank, in] and B as [out, rank] (numpy order), except token_embd, whose pair is
stored transposed (A [n_vocab, rank], B [n_embd, rank]: W' = W + s · A·Bᵀ). The q/k row permutation
for rotary embeddings is already in the adapter's B (export.py), so the sum lands on the right rows.

Where export-lora writes merged tensors as F16 (a quantized 4-bit base becomes a ~4x larger file),
each merged tensor here keeps the base tensor's own type: it is dequantized, summed in float32 and
requantized with ggml's own quantizer (engines/quantize.py), so the merged file has the base's size
and speed. That rounding is the only difference from base+adapter; on 4-bit types it is about as
large as a small adapter's own effect (tests/integration/test_tune_equivalence.py measures both).
`F16` writes every non-F32 tensor as F16 instead (no requantization error, 2 bytes a weight).
Tensors the adapter leaves alone are copied byte for byte. The output is written under a temporary
name and renamed when complete; the disk is checked first.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DiskSpaceError, InvalidParamsError, ModelFileError

OUT_TYPES = ("same", "F16", "F32")   # "same": each tensor keeps the base's type
_MARGIN = 16 << 20                   # bytes kept free beyond the estimate


@dataclass(frozen=True)
class AdapterWeights:
    arch: str
    scale_alpha: float | None                         # adapter.lora.alpha, when the file has it
    pairs: dict[str, tuple[np.ndarray, np.ndarray]]   # base tensor name -> (A, B), float32

    def delta(self, name: str) -> np.ndarray:
        """s · B·A for one base tensor, float32, numpy order [out, in] (token_embd: [n_vocab, n_embd])."""
        a, b = self.pairs[name]
        rank = b.shape[-1]
        scale = self.scale_alpha / rank if self.scale_alpha else 1.0
        product = a @ b.T if name.startswith("token_embd.") else b @ a
        return (scale * product).astype(np.float32)

    def delta_shape(self, name: str) -> tuple[int, int]:
        a, b = self.pairs[name]
        return (a.shape[0], b.shape[0]) if name.startswith("token_embd.") else (b.shape[0], a.shape[1])


@dataclass(frozen=True)
class MergeResult:
    path: Path
    tensor_type: str         # "Q4_1", "F16", ... (the base's file type when kept)
    merged_tensors: int
    size_bytes: int


def _field(reader: Any, key: str) -> Any:
    f = reader.fields.get(key)
    return f.contents() if f is not None else None


def _values(t: Any) -> np.ndarray:
    """A tensor's values as float32 in numpy order (reversed ggml ne)."""
    import gguf

    shape = [int(x) for x in reversed(t.shape)]
    return gguf.quants.dequantize(t.data, gguf.GGMLQuantizationType(int(t.tensor_type))).reshape(shape)


def read_adapter(path: Path) -> AdapterWeights:
    """A llama.cpp LoRA adapter GGUF (ours, or one convert_lora_to_gguf.py wrote)."""
    import gguf

    try:
        reader = gguf.GGUFReader(str(path))
    except (OSError, ValueError) as exc:
        raise ModelFileError(str(path), f"cannot be read as GGUF: {exc}") from None
    if _field(reader, "general.type") != "adapter" or _field(reader, "adapter.type") != "lora":
        raise ModelFileError(str(path), "is not a LoRA adapter (general.type 'adapter', adapter.type 'lora')")
    tensors = {t.name: t for t in reader.tensors}
    pairs = {}
    for name in tensors:
        if name.endswith(".lora_a"):
            base = name[: -len(".lora_a")]
            if base + ".lora_b" not in tensors:
                raise ModelFileError(str(path), f"has {name} without {base}.lora_b")
            pairs[base] = (_values(tensors[name]), _values(tensors[base + ".lora_b"]))
    if not pairs:
        raise ModelFileError(str(path), "holds no lora_a/lora_b tensor pairs")
    alpha = _field(reader, "adapter.lora.alpha")
    return AdapterWeights(str(_field(reader, "general.architecture")), float(alpha) if alpha else None, pairs)


def type_name(ggml_type: int) -> str:
    import gguf

    return gguf.GGMLQuantizationType(ggml_type).name


def _out_type(t: Any, mode: str) -> int:
    import gguf

    T = gguf.GGMLQuantizationType
    kind = int(t.tensor_type)
    if mode == "same" or kind not in (int(x) for x in T if x not in (T.I8, T.I16, T.I32, T.I64, T.F64)):
        return kind
    return int(T.F32) if mode == "F32" or kind == int(T.F32) else int(T.F16)


def _check(reader: Any, adapter: AdapterWeights | None, mode: str, base: Path) -> None:
    """Everything that can be refused before a byte is written."""
    from ..engines.quantize import needs_imatrix

    if mode not in OUT_TYPES:
        raise InvalidParamsError(f"unknown merged type {mode!r}", param="type",
                                 hint=f"use one of {', '.join(OUT_TYPES)}")
    if adapter is None:
        return
    arch = _field(reader, "general.architecture")
    if adapter.arch != arch:
        raise ModelFileError(str(base), f"is a {arch!r} model but the adapter is for {adapter.arch!r}",
                             "merge an adapter trained on this base")
    tensors = {t.name: t for t in reader.tensors}
    for name in adapter.pairs:
        t = tensors.get(name)
        if t is None:
            raise ModelFileError(str(base), f"has no tensor {name!r}, which the adapter changes",
                                 "merge an adapter trained on this base")
        want = tuple(int(x) for x in reversed(t.shape))
        if adapter.delta_shape(name) != want:
            raise ModelFileError(str(base), f"tensor {name} is {want} but the adapter's update is "
                                 f"{adapter.delta_shape(name)}", "merge an adapter trained on this base")
        if mode == "same" and needs_imatrix(int(t.tensor_type)):
            raise InvalidParamsError(f"{name} is {type_name(int(t.tensor_type))}, which cannot be "
                                     "requantized without an importance matrix", param="type",
                                     hint="write the merged model as F16 instead")


def _plan(reader: Any, mode: str) -> list[tuple[Any, int, int]]:
    """(tensor, output type, output bytes) in file order."""
    from ..engines.quantize import row_bytes

    out = []
    for t in reader.tensors:
        kind = _out_type(t, mode)
        ne0 = int(t.shape[0])
        size = int(t.n_bytes) if kind == int(t.tensor_type) else row_bytes(kind, ne0) * (int(t.n_elements) // ne0)
        out.append((t, kind, size))
    return out


def _check_disk(out: Path, needed: int) -> None:
    free = shutil.disk_usage(out.parent).free
    if needed + _MARGIN > free:
        raise DiskSpaceError(str(out), needed, free)


def _copy_metadata(reader: Any, writer: Any, name: str | None, file_type: int | None) -> None:
    import gguf

    for key, field in reader.fields.items():
        if key.startswith("GGUF.") or key == "general.architecture":
            continue
        if key == "general.alignment":
            writer.add_custom_alignment(int(field.contents()))
        elif key == "general.name" and name:
            continue
        elif key == "general.file_type" and file_type is not None:
            continue
        else:
            vtype = field.types[0]
            sub = field.types[-1] if vtype == gguf.GGUFValueType.ARRAY else None
            writer.add_key_value(key, field.contents(), vtype, sub_type=sub)
    if name:
        writer.add_name(name)
    if file_type is not None:
        writer.add_file_type(file_type)


def _tensor_bytes(t: Any, kind: int, adapter: AdapterWeights | None) -> np.ndarray:
    from ..engines.quantize import quantize_rows

    d = adapter.delta(t.name) if adapter and t.name in adapter.pairs else None
    if d is None and kind == int(t.tensor_type):
        return t.data                        # untouched: the base's bytes as they are
    values = _values(t)
    if d is not None:
        values = values + d
    return quantize_rows(values, kind)


def write_merged(base: Path, adapter_path: Path | None, out: Path, mode: str = "same",
                 name: str | None = None) -> MergeResult:
    """Write `base` with `adapter_path` folded in (or, without an adapter, `base` converted to
    `mode`) to `out`, atomically. Never writes over `base`."""
    import gguf

    base, out = Path(base), Path(out)
    if out.resolve() == base.resolve():
        raise InvalidParamsError(f"the merged model would overwrite its base {base}",
                                 hint="write it under another name")
    reader = gguf.GGUFReader(str(base))
    adapter = read_adapter(adapter_path) if adapter_path else None
    _check(reader, adapter, mode, base)
    plan = _plan(reader, mode)
    _check_disk(out, int(reader.data_offset) + sum(size for _, _, size in plan))
    file_type = {"F16": int(gguf.LlamaFileType.MOSTLY_F16), "F32": int(gguf.LlamaFileType.ALL_F32)}.get(mode)
    tmp = out.with_name(f".{out.name}.tmp{os.getpid()}")
    try:
        writer = gguf.GGUFWriter(str(tmp), str(_field(reader, "general.architecture")))
        _copy_metadata(reader, writer, name, file_type)
        for t, kind, size in plan:
            writer.add_tensor_info(t.name, [int(x) for x in reversed(t.shape)], np.dtype(np.float32), size,
                                   raw_dtype=gguf.GGMLQuantizationType(kind))
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_ti_data_to_file()
        for t, kind, _ in plan:
            writer.write_tensor_data(_tensor_bytes(t, kind, adapter))
        writer.close()
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    label = _base_type(reader) if mode == "same" else mode
    return MergeResult(out, label, len(adapter.pairs) if adapter else 0, out.stat().st_size)


def _base_type(reader: Any) -> str:
    import gguf

    ft = _field(reader, "general.file_type")
    try:
        return gguf.LlamaFileType(int(ft)).name.removeprefix("MOSTLY_").removeprefix("ALL_")
    except (TypeError, ValueError):
        return "same as base"


# --- merging a registered tune ---------------------------------------------------------------------

def merged_name(tuned: str, mode: str) -> str:
    return f"{tuned}-merged" if mode == "same" else f"{tuned}-merged-{mode}"


def merge_tuned(lineage: Any, folder: Path, mode: str, settings: Any) -> tuple[Any, bool]:
    """Fold a finished tune's adapter into its base, record it in the lineage (which registers it
    as a model) and return (the record, whether it was written now). An existing merge is kept."""
    from datetime import UTC, datetime

    from ..errors import TrainingError
    from ..models.filehash import file_sha256
    from .registry import ADAPTER_FILE, MergedFile, write_lineage

    name = merged_name(lineage.name, mode)
    done = next((m for m in lineage.merged if m.name == name and (folder / m.file).is_file()), None)
    if done:
        return done, False
    if mode == "F32":
        raise InvalidParamsError("a merged model is written in the base's types or as F16", param="type",
                                 hint="use --type same or --type F16")
    base = Path(lineage.base_path)
    if not base.is_file():
        raise ModelFileError(str(base), "is missing: the base this adapter was trained on has moved",
                             "put the base file back where it was")
    if file_sha256(str(base), settings) != lineage.base_sha256:
        raise TrainingError(f"{base} has changed since {lineage.name} was trained (its SHA-256 differs)",
                            "merge only into the exact file the adapter was trained on")
    out = folder / f"{name}.gguf"
    result = write_merged(base, folder / ADAPTER_FILE, out, mode, name)
    record = MergedFile(name=name, file=out.name, tensor_type=result.tensor_type,
                        sha256=file_sha256(str(out), settings), size_bytes=result.size_bytes,
                        created=datetime.now(UTC).isoformat(timespec="seconds"))
    lineage.merged = [m for m in lineage.merged if m.name != name] + [record]
    write_lineage(folder, lineage)
    return record, True
