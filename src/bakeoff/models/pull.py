"""`bakeoff pull HF_REPO[:FILE]`: download a GGUF from the Hugging Face Hub into BAKEOFF_HOME.

huggingface_hub does the transfer (`http_get`: progress bar, retries that resume a dropped
connection with HTTP Range). hf_hub_download itself deletes its partial file when the process dies,
so we keep our own `<file>.part` next to the target and pass its size as `resume_size`: a killed
`bakeoff pull` resumes where it stopped. We also choose the quantization recommended for this
machine when no file is named, check SHA-256 against the hub's LFS digest, check the GGUF header,
and give one clear error when the hub cannot be reached. HF_ENDPOINT is read at call time.
"""

from __future__ import annotations

import importlib
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import DownloadError, NotFoundError
from ..settings import Settings, get_settings
from . import fit
from .gguf_info import read_gguf_info
from .packaged import sha256_file

_QUANT_RE = re.compile(r"(?i)(?<![a-z0-9])(i?q\d_k_[sml]|i?q\d_k|q\d_\d|iq\d_[a-z]+|bf16|f16|f32)(?![a-z0-9])")
DEFAULT_ENDPOINT = "https://huggingface.co"


@dataclass
class RemoteFile:
    name: str
    size: int | None
    sha256: str | None

    @property
    def quant(self) -> str | None:
        m = _QUANT_RE.search(self.name)
        return m.group(1).upper() if m else None


def parse_spec(spec: str) -> tuple[str, str | None]:
    repo, _, filename = spec.partition(":")
    if not re.fullmatch(r"[\w.\-]+/[\w.\-]+", repo):
        raise DownloadError(DEFAULT_ENDPOINT, f"invalid repo {spec!r}",
                            hint="use OWNER/NAME or OWNER/NAME:FILE.gguf, e.g. Qwen/Qwen2.5-0.5B-Instruct-GGUF")
    return repo, filename or None


def endpoint() -> str:
    return os.environ.get("HF_ENDPOINT", DEFAULT_ENDPOINT).rstrip("/")


def _net_errors() -> tuple[type[BaseException], ...]:
    """Transport errors of whichever HTTP client this huggingface_hub uses (httpx or httpx2)."""
    errs: list[type[BaseException]] = [OSError]
    for name in ("httpx2", "httpx"):
        try:
            errs.append(importlib.import_module(name).TransportError)
        except (ImportError, AttributeError):
            pass
    return tuple(errs)


def _unreachable(url: str) -> DownloadError:
    return DownloadError(url, "cannot reach the Hugging Face Hub (offline?)",
                         hint="connect to the network or set HF_ENDPOINT to a mirror; files already "
                              "pulled stay usable offline (`bakeoff models`)")


def list_files(repo: str) -> list[RemoteFile]:
    from huggingface_hub import HfApi
    from huggingface_hub.errors import OfflineModeIsEnabled, RepositoryNotFoundError

    url = endpoint()
    offline: tuple[type[BaseException], ...] = (OfflineModeIsEnabled, *_net_errors())
    try:
        info = HfApi(endpoint=url).model_info(repo, files_metadata=True)
    except RepositoryNotFoundError:
        raise NotFoundError("Hugging Face repo", repo) from None
    except offline:
        raise _unreachable(url) from None
    return [RemoteFile(s.rfilename, s.size, s.lfs.sha256 if s.lfs else None) for s in info.siblings or []]


# Per-quantization memory estimates for a repo from a source that knows the model (the catalog,
# which lives above this layer and is passed in by the caller), or None when it does not.
KnownEstimates = Callable[[str], "dict[str, fit.FitEstimate] | None"]


def choose_file(repo: str, files: list[RemoteFile], available: int | None = None,
                estimates: dict[str, fit.FitEstimate] | None = None) -> tuple[RemoteFile, str]:
    """The recommended quantization for this machine, from `estimates` (the catalog's, when it knows
    the repo), else from file sizes (weights + 25% for cache and buffers + runtime overhead)."""
    ggufs = [f for f in files if f.name.endswith(".gguf")]
    if not ggufs:
        raise NotFoundError("GGUF file in", repo)
    by_quant = {f.quant: f for f in ggufs if f.quant}
    if estimates is None:
        avail = available if available is not None else fit.available_bytes()
        estimates = {q: fit.FitEstimate(f.size or 0, 0, 0, 0, int((f.size or 0) * 1.25) + fit.RUNTIME_OVERHEAD,
                                        0, avail, "")
                     for q, f in by_quant.items() if q in fit.QUANTS}
        for e in estimates.values():
            e.verdict = fit.verdict(e.total_bytes, avail)
    best = fit.recommend_quant({q: e for q, e in estimates.items() if q in by_quant})
    if best:
        return by_quant[best], f"{best}: the recommended quantization for this machine"
    smallest = min(ggufs, key=lambda f: f.size or 0)
    return smallest, "smallest file (none of Q4_K_M / Q8_0 / F16 fits or is offered)"


def download(repo: str, remote: RemoteFile, target: Path) -> int:
    """Download into target (resuming `<target>.part`); returns the bytes already there at start."""
    from huggingface_hub import hf_hub_url
    from huggingface_hub.errors import EntryNotFoundError
    from huggingface_hub.file_download import http_get

    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(target.name + ".part")
    resumed = part.stat().st_size if part.exists() else 0
    if remote.size is not None and resumed > remote.size:
        part.unlink()
        resumed = 0
    url = hf_hub_url(repo, remote.name, endpoint=endpoint())
    try:
        with part.open("ab") as fh:
            if remote.size is None or resumed < remote.size:
                http_get(url, fh, resume_size=resumed, expected_size=remote.size,
                         displayed_filename=remote.name)
    except EntryNotFoundError:
        raise NotFoundError("file", f"{repo}:{remote.name}") from None
    except _net_errors():
        raise DownloadError(endpoint(), f"download of {remote.name} was interrupted at "
                            f"{part.stat().st_size} bytes",
                            hint="run the same `bakeoff pull` again: it resumes where it stopped") from None
    os.replace(part, target)
    return resumed


def pull(spec: str, settings: Settings | None = None, known: KnownEstimates | None = None) -> dict[str, Any]:
    """Download spec's file (or the quantization recommended for this machine, judged with
    `known(repo)` when given) into the models dir, verified against the hub's SHA-256."""
    settings = settings or get_settings()
    repo, filename = parse_spec(spec)
    files = list_files(repo)
    if filename:
        chosen = next((f for f in files if f.name == filename), None)
        if chosen is None:
            raise NotFoundError("file", f"{repo}:{filename}",
                                valid=[f.name for f in files if f.name.endswith(".gguf")])
        reason = "named on the command line"
    else:
        chosen, reason = choose_file(repo, files, estimates=known(repo) if known else None)
    settings.ensure_home()
    path = settings.models_dir / "pulled" / repo.replace("/", "__") / chosen.name
    resumed = 0 if path.exists() else download(repo, chosen, path)
    digest = sha256_file(path)
    if chosen.sha256 and digest != chosen.sha256:
        path.unlink(missing_ok=True)
        raise DownloadError(endpoint(), f"{chosen.name}: SHA-256 {digest[:12]}… does not match the hub's "
                            f"{chosen.sha256[:12]}…; the file was deleted", hint="pull it again")
    info = read_gguf_info(path)
    return {"repo": repo, "file": chosen.name, "path": str(path), "quantization": info.quantization,
            "size": path.stat().st_size, "sha256": digest, "verified": bool(chosen.sha256),
            "resumed_from": resumed,
            "reason": reason, "name": path.stem}
