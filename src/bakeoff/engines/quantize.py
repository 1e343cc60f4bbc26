"""Make quantized copies of a GGUF file with llama.cpp's own quantizer (`llama_model_quantize`).

Outputs are named `{stem}-{TYPE}.gguf` (the source's own quantization suffix dropped from the stem)
and go to BAKEOFF_HOME/models by default, where `bakeoff models` lists them and `bakeoff quants`
finds them. A file that already exists is kept (an interrupted run resumes); each output is written
under a temporary name and renamed when complete, so a half-written file never looks finished.

Quantizing from a quantized file dequantizes it first: the copy cannot be better than its source,
so a low-bit source makes a lossy reference; the caller gets a warning that says so.
"""

from __future__ import annotations

import ctypes
import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import EngineError, InvalidParamsError
from ..models.gguf_info import read_gguf_info
from .llama_lowlevel import backend_init

# Types a user can ask for, in llama.cpp's naming (F32 is LLAMA_FTYPE_ALL_F32). The IQ1/IQ2 types
# and Q2_K_S need an importance matrix, which this command does not compute, so they are not offered.
TARGETS = ("F32", "BF16", "F16", "Q8_0", "Q6_K", "Q5_K_M", "Q5_K_S", "Q5_1", "Q5_0", "Q4_K_M",
           "Q4_K_S", "Q4_1", "Q4_0", "IQ4_NL", "IQ4_XS", "Q3_K_L", "Q3_K_M", "Q3_K_S", "IQ3_M",
           "IQ3_S", "IQ3_XS", "Q2_K")
# Sources that make a near-lossless reference: requantizing from anything else compounds its error.
REFERENCE_GRADE = ("F32", "BF16", "F16", "Q8_0")
_SUFFIX = re.compile(r"[-_.](?:" + "|".join(sorted(TARGETS + ("IQ1_S", "IQ1_M", "IQ2_XXS", "IQ2_XS",
                                                            "IQ2_S", "Q2_K_S", "MOSTLY_F16"),
                                                           key=len, reverse=True)) + r")$", re.I)


@dataclass(frozen=True)
class Quantized:
    target: str
    path: Path
    size_bytes: int
    created: bool       # False: the file was already there and was kept


def ftype(target: str) -> int:
    import llama_cpp

    name = "LLAMA_FTYPE_ALL_F32" if target == "F32" else f"LLAMA_FTYPE_MOSTLY_{target}"
    return int(getattr(llama_cpp, name))


def parse_targets(text: str) -> list[str]:
    """'Q4_K_M,q5_k_m' -> ['Q4_K_M', 'Q5_K_M']; an unknown type lists the valid ones."""
    wanted = [t.strip().upper() for t in text.split(",") if t.strip()]
    if not wanted:
        raise InvalidParamsError("no target type given", param="to",
                                 hint=f"valid types: {', '.join(TARGETS)}")
    unknown = [t for t in wanted if t not in TARGETS]
    if unknown:
        import difflib

        close = difflib.get_close_matches(unknown[0], TARGETS, n=3)
        raise InvalidParamsError(
            f"unknown quantization type {unknown[0]!r}", param="to",
            hint=(f"did you mean {', '.join(close)}? " if close else "") + f"valid types: {', '.join(TARGETS)}")
    return list(dict.fromkeys(wanted))


def base_stem(path: Path) -> str:
    """'SmolLM2-135M-Instruct.Q4_1.gguf' -> 'SmolLM2-135M-Instruct'."""
    return _SUFFIX.sub("", path.stem)


def source_warning(source_quant: str | None) -> str | None:
    if source_quant and source_quant.upper() not in REFERENCE_GRADE:
        return (f"the source is {source_quant}, already lossy: every copy inherits its error, so none "
                f"can be better than {source_quant}, and a reference made from it is itself lossy "
                f"(quantize from an F16, BF16 or Q8_0 file when you have one)")
    return None


def quantize_file(src: Path, target: str, out: Path, threads: int) -> None:
    """One call to llama.cpp's quantizer; writes `out` atomically."""
    import llama_cpp

    backend_init()
    params = llama_cpp.llama_model_quantize_default_params()
    params.nthread = threads
    params.ftype = ftype(target)
    params.allow_requantize = True      # the source may itself be quantized (warned about)
    tmp = out.with_name(out.name + ".partial")
    rc = llama_cpp.llama_model_quantize(str(src).encode(), str(tmp).encode(), ctypes.byref(params))
    if rc != 0 or not tmp.is_file():
        tmp.unlink(missing_ok=True)
        raise EngineError(f"llama.cpp's quantizer failed ({rc}) making {target} from {src}",
                          "check that the source loads (`bakeoff show FILE`) and the disk has room")
    tmp.replace(out)


def sidecar(path: Path) -> Path:
    """`X.gguf.source.json`: what a quantized copy was made from (a Q8_0 made from a Q4_1 file is
    no better than Q4_1, and its own metadata cannot say so)."""
    return path.with_name(path.name + ".source.json")


def made_from(path: Path) -> str | None:
    """The quantization of the file `path` was made from, when `bakeoff quantize` made it."""
    try:
        return json.loads(sidecar(path).read_text())["source_quantization"]
    except (OSError, ValueError, KeyError):
        return None


def quantize(src: Path, targets: list[str], out_dir: Path, threads: int) -> tuple[list[Quantized], str | None]:
    """Quantized copies of src, one per target, and a warning when the source is low-bit."""
    info = read_gguf_info(str(src))   # a missing or corrupt source fails here, clearly
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = base_stem(src)
    made = []
    for target in targets:
        out = out_dir / f"{stem}-{target}.gguf"
        created = not out.is_file()
        if created:
            quantize_file(src, target, out, threads)
            sidecar(out).write_text(json.dumps({"source": str(src), "source_quantization":
                                                info.quantization, "type": target}))
        made.append(Quantized(target, out, out.stat().st_size, created))
    return made, source_warning(info.quantization)


# --- one tensor at a time (merging an adapter into its base) --------------------------------------

def _ggml():
    """libggml as llama-cpp-python loads it, with the three functions used here typed."""
    from llama_cpp._ggml import libggml

    if not getattr(libggml, "_bakeoff_typed", False):
        libggml.ggml_row_size.argtypes = [ctypes.c_int, ctypes.c_int64]
        libggml.ggml_row_size.restype = ctypes.c_size_t
        libggml.ggml_quantize_requires_imatrix.argtypes = [ctypes.c_int]
        libggml.ggml_quantize_requires_imatrix.restype = ctypes.c_bool
        libggml.ggml_quantize_chunk.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64,
                                                ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p]
        libggml.ggml_quantize_chunk.restype = ctypes.c_size_t
        libggml._bakeoff_typed = True
    return libggml


def row_bytes(ggml_type: int, n_per_row: int) -> int:
    """Bytes of one row of `n_per_row` values stored as `ggml_type` (ggml's own block sizes)."""
    return int(_ggml().ggml_row_size(ggml_type, n_per_row))


def needs_imatrix(ggml_type: int) -> bool:
    return bool(_ggml().ggml_quantize_requires_imatrix(ggml_type))


def quantize_rows(values: np.ndarray, ggml_type: int) -> np.ndarray:
    """float32 values [..., n_per_row] -> their bytes as `ggml_type` [..., row bytes], through ggml's
    own quantizer (ggml_quantize_chunk: the reference rounding llama-quantize uses without an
    importance matrix; F32, F16 and BF16 are plain conversions)."""
    if needs_imatrix(ggml_type):
        raise InvalidParamsError(f"ggml type {ggml_type} needs an importance matrix to quantize",
                                 hint="write the merged model as F16 instead")
    n_per_row = values.shape[-1]
    rows = np.ascontiguousarray(values, dtype=np.float32).reshape(-1, n_per_row)
    width = row_bytes(ggml_type, n_per_row)
    out = np.empty((rows.shape[0], width), dtype=np.uint8)
    done = _ggml().ggml_quantize_chunk(ggml_type, rows.ctypes.data, out.ctypes.data, 0,
                                       rows.shape[0], n_per_row, None)
    if done != out.nbytes:
        raise EngineError(f"ggml quantized {done} bytes, expected {out.nbytes}")
    return out.reshape(*values.shape[:-1], width)
