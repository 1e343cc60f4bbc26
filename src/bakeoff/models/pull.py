"""`bakeoff pull HF_REPO[:FILE]`: download a GGUF from the Hugging Face Hub into BAKEOFF_HOME.

huggingface_hub does the transfer (`http_get`: progress bar, retries that resume a dropped
connection with HTTP Range). hf_hub_download itself deletes its partial file when the process dies,
so we keep our own `<file>.part` next to the target and pass its size as `resume_size`: a killed
`bakeoff pull` resumes where it stopped. We also choose the quantization recommended for this
machine when no file is named, check SHA-256 against the hub's LFS digest, check the GGUF header,
and give one clear error when the hub cannot be reached. HF_ENDPOINT is read at call time.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import DownloadError, NotFoundError
from ..settings import Settings, get_settings
from . import fit
from .gguf_info import read_gguf_info
from .hub import DEFAULT_ENDPOINT, RemoteFile, endpoint, group_offers, list_files, net_errors
from .packaged import sha256_file
from .quant_evidence import NO_EVIDENCE, QuantEvidence, pick_quant, unused_note

__all__ = ["RemoteFile", "choose_file", "download", "parse_spec", "pull"]


def parse_spec(spec: str) -> tuple[str, str | None]:
    repo, _, filename = spec.partition(":")
    if not re.fullmatch(r"[\w.\-]+/[\w.\-]+", repo):
        raise DownloadError(DEFAULT_ENDPOINT, f"invalid repo {spec!r}",
                            hint="use OWNER/NAME, OWNER/NAME:FILE.gguf or OWNER/NAME:QUANT, e.g. "
                                 "Qwen/Qwen2.5-0.5B-Instruct-GGUF:Q4_K_M, or a `bakeoff search` number")
    return repo, filename or None


# Per-quantization memory estimates for a repo from a source that knows the model (the catalog,
# which lives above this layer and is passed in by the caller), or None when it does not.
KnownEstimates = Callable[[str], "dict[str, fit.FitEstimate] | None"]
# The `bakeoff quants` sweep kept for the model a repo holds (read from the store by the caller).
KnownQuants = Callable[[str], "QuantEvidence | None"]


def choose_file(repo: str, files: list[RemoteFile], available: int | None = None,
                estimates: dict[str, fit.FitEstimate] | None = None) -> tuple[RemoteFile, str]:
    """The recommended quantization for this machine, from `estimates` (the catalog's, when it knows
    the repo), else from file sizes (weights + 25% for cache and buffers + runtime overhead)."""
    ggufs = [f for f in files if f.name.endswith(".gguf")]
    if not ggufs:
        raise NotFoundError("GGUF file in", repo)
    by_quant = {f.quant: f for f in ggufs if f.quant}
    if estimates is None:
        estimates = {q: fit.estimate_download(f.size or 0, available=available)
                     for q, f in by_quant.items() if q in fit.QUANTS}
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
    except net_errors():
        raise DownloadError(endpoint(), f"download of {remote.name} was interrupted at "
                            f"{part.stat().st_size} bytes",
                            hint="run the same `bakeoff pull` again: it resumes where it stopped") from None
    os.replace(part, target)
    return resumed


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def local_target(folder: Path, name: str) -> Path:
    """Where the hub's file `name` goes under `folder`. Hub file names may hold subfolders
    ("Q4_K_M/model-00001-of-00002.gguf") but a hostile or broken hub could list "../../.bashrc":
    anything that would land outside `folder` is refused, and so are control characters (a NUL
    cuts the path short; an escape sequence would reach the terminal in the progress bar)."""
    parts = name.split("/")
    if (not name or "\\" in name or name.startswith("/") or _CONTROL.search(name)
            or any(p in ("", ".", "..") for p in parts)):
        raise DownloadError(endpoint(), f"the hub lists an unsafe file name {name!r}",
                            hint="only plain names and subfolders are downloaded; pick another file "
                                 "or repo")
    target = folder.joinpath(*parts)
    if not target.resolve().is_relative_to(folder.resolve()):  # a symlinked subfolder pointing out
        raise DownloadError(endpoint(), f"{name!r} would be written outside {folder}",
                            hint="remove the symlink in that folder")
    return target


def _pick(repo: str, files: list[RemoteFile], wanted: str | None,
          estimates: dict[str, fit.FitEstimate] | None,
          evidence: QuantEvidence | None = None) -> tuple[list[RemoteFile], str]:
    """The files to fetch: a named file or quantization label (every shard of a split file), else
    the smallest quantization this machine's `bakeoff quants` evidence supports, else the one
    recommended for this machine (saying that the quantization's effect is unknown here)."""
    by_name = {f.name: f for f in files}
    offers = group_offers(files)
    if wanted:
        offer = next((o for o in offers if wanted in o.files), None) or next(
            (o for o in offers if o.quant.lower() == wanted.lower()), None)
        if offer is None:
            raise NotFoundError("file", f"{repo}:{wanted}",
                                valid=sorted({o.quant for o in offers}) + [f.name for f in files
                                                                         if f.name.endswith(".gguf")])
        return [by_name[n] for n in offer.files], "named on the command line"
    if evidence is not None:
        by_quant = {o.quant.upper(): o for o in offers}
        picked = pick_quant(evidence, by_quant, lambda q: _fits(by_quant[q], estimates))
        if picked is not None:
            return [by_name[n] for n in by_quant[picked.quantization.upper()].files], picked.reason
    chosen, reason = choose_file(repo, files, estimates=estimates)
    offer = next((o for o in offers if chosen.name in o.files), None)
    note = unused_note(evidence, (o.quant for o in offers)) if evidence else NO_EVIDENCE
    return ([by_name[n] for n in offer.files] if offer else [chosen]), f"{reason}; {note}"


def _fits(offer: Any, estimates: dict[str, fit.FitEstimate] | None) -> bool:
    """Whether an offered quantization fits this machine: the catalog's estimate when it has one
    for that type, else the offer's size."""
    est = (estimates or {}).get(offer.quant.upper())
    if est is None and offer.size is not None:
        est = fit.estimate_download(offer.size)
    return est is not None and est.verdict == "fits"


def _fetch_verified(repo: str, remote: RemoteFile, path: Path) -> tuple[int, str]:
    """Download (or keep) one file and check it against the Hub's SHA-256; returns (resumed, digest)."""
    resumed = 0 if path.exists() else download(repo, remote, path)
    digest = sha256_file(path)
    if remote.sha256 and digest != remote.sha256:
        path.unlink(missing_ok=True)
        raise DownloadError(endpoint(), f"{remote.name}: SHA-256 {digest[:12]}… does not match the hub's "
                            f"{remote.sha256[:12]}…; the file was deleted", hint="pull it again")
    return resumed, digest


def pull(spec: str, settings: Settings | None = None, known: KnownEstimates | None = None,
         quants: KnownQuants | None = None) -> dict[str, Any]:
    """Download spec's file(s) (or the quantization chosen for this machine: from `quants(repo)`'s
    sweep evidence when there is some, else the machine's rule judged with `known(repo)`) into the
    models dir, verified against the hub's SHA-256. `spec` is OWNER/REPO, OWNER/REPO:FILE,
    OWNER/REPO:QUANT, or a `bakeoff search` result (N or N:QUANT)."""
    settings = settings or get_settings()
    spec, from_search, picked_by_search = search_result(spec, settings)
    repo, wanted = parse_spec(spec)
    files = list_files(repo)
    evidence = quants(repo) if quants and (not wanted or picked_by_search) else None
    if evidence is not None and picked_by_search:   # the search chose by fit alone: evidence decides
        wanted, from_search = None, None
    chosen, reason = _pick(repo, files, wanted, known(repo) if known and not wanted else None, evidence)
    reason = from_search or reason
    settings.ensure_home()
    folder = settings.models_dir / "pulled" / repo.replace("/", "__")
    results = [_fetch_verified(repo, f, local_target(folder, f.name)) for f in chosen]
    path = local_target(folder, chosen[0].name)
    info = read_gguf_info(path)
    return {"repo": repo, "file": chosen[0].name, "files": [f.name for f in chosen], "path": str(path),
            "quantization": info.quantization,
            "size": sum(local_target(folder, f.name).stat().st_size for f in chosen),
            "sha256": results[0][1], "verified": all(f.sha256 for f in chosen),
            "resumed_from": results[0][0], "reason": reason, "name": path.stem,
            "quant_evidence": evidence.id if evidence else None}


def last_search_path(settings: Settings) -> Path:
    return settings.home / "cache" / "last-search.json"


def search_result(spec: str, settings: Settings) -> tuple[str, str | None, bool]:
    """`N` or `N:QUANT` -> (`OWNER/REPO:QUANT` from the last `bakeoff search`, why that file,
    whether the search chose the quantization (by fit alone) rather than the user); other specs
    unchanged."""
    number, _, quant = spec.partition(":")
    if not number.isdigit():
        return spec, None, False
    try:
        saved = json.loads(last_search_path(settings).read_text())
    except (OSError, ValueError):
        saved = []
    index = int(number) - 1
    if not 0 <= index < len(saved):
        err = NotFoundError("search result", spec, valid=[str(i + 1) for i in range(len(saved))] or None)
        err.hint = err.hint or "run `bakeoff search QUERY` first, then pull one of its numbers"
        raise err
    repo, recommended = saved[index]["repo"], saved[index].get("recommended")
    if quant:
        return f"{repo}:{quant}", f"search result {number}, {quant} named on the command line", False
    if recommended:
        return f"{repo}:{recommended}", f"search result {number}: {recommended}, the recommended " \
                                        "quantization for this machine", True
    return repo, None, False
