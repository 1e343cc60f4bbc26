"""The Hugging Face Hub through huggingface_hub: a repo's files (sizes, LFS digests), and search for
GGUF repos with the quantizations each offers and whether each fits this machine.

HF_ENDPOINT is read at call time (tests point it at a loopback server). Any transport failure is
one DownloadError that says the Hub cannot be reached.
"""

from __future__ import annotations

import importlib
import os
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from ..errors import DownloadError, NotFoundError
from . import fit, gpu

DEFAULT_ENDPOINT = "https://huggingface.co"
_QUANT_RE = re.compile(r"(?i)(?<![a-z0-9])(i?q\d_k_[sml]|i?q\d_k|q\d_\d|iq\d_[a-z]+|bf16|f16|f32)(?![a-z0-9])")
_SHARD_RE = re.compile(r"-(\d{5})-of-(\d{5})\.gguf$", re.I)


def quant_of(filename: str) -> str | None:
    m = _QUANT_RE.search(filename)
    return m.group(1).upper() if m else None


@dataclass
class RemoteFile:
    name: str
    size: int | None
    sha256: str | None

    @property
    def quant(self) -> str | None:
        return quant_of(self.name)


def endpoint() -> str:
    return os.environ.get("HF_ENDPOINT", DEFAULT_ENDPOINT).rstrip("/")


def net_errors() -> tuple[type[BaseException], ...]:
    """Transport errors of whichever HTTP client this huggingface_hub uses (httpx or httpx2)."""
    errs: list[type[BaseException]] = [OSError]
    for name in ("httpx2", "httpx"):
        try:
            errs.append(importlib.import_module(name).TransportError)
        except (ImportError, AttributeError):
            pass
    from huggingface_hub.errors import OfflineModeIsEnabled

    return (*errs, OfflineModeIsEnabled)


def unreachable(url: str) -> DownloadError:
    return DownloadError(url, "cannot reach the Hugging Face Hub (offline?)",
                         hint="connect to the network or set HF_ENDPOINT to a mirror; files already "
                              "pulled stay usable offline (`bakeoff models`)")


def list_files(repo: str) -> list[RemoteFile]:
    from huggingface_hub import HfApi
    from huggingface_hub.errors import RepositoryNotFoundError

    url = endpoint()
    try:
        info = HfApi(endpoint=url).model_info(repo, files_metadata=True)
    except RepositoryNotFoundError:
        raise NotFoundError("Hugging Face repo", repo) from None
    except net_errors():
        raise unreachable(url) from None
    return [RemoteFile(s.rfilename, s.size, s.lfs.sha256 if s.lfs else None) for s in info.siblings or []]


@dataclass
class Offer:
    """One quantization a repo offers: a single file, or the shards of a split one, in order."""

    quant: str                     # "Q4_K_M", or the file name when it names no quantization
    files: list[str]
    size: int | None               # all shards together
    fit: fit.FitEstimate | None = None
    gpu_verdict: str | None = None   # all layers on this machine's GPU: fits / won't fit (None: no GPU)


@dataclass
class HubModel:
    repo: str
    downloads: int
    likes: int
    license: str | None            # the repo's licence tag
    task: str | None               # the Hub's pipeline tag
    offers: list[Offer] = field(default_factory=list)
    recommended: str | None = None  # the offer `bakeoff pull` would choose for this machine

    @property
    def best_verdict(self) -> str | None:
        """The best any offer gets, in memory or on the GPU."""
        verdicts = {o.fit.verdict for o in self.offers if o.fit} | {o.gpu_verdict for o in self.offers}
        return next((v for v in ("fits", "tight", "won't fit") if v in verdicts), None)


def group_offers(files: list[RemoteFile]) -> list[Offer]:
    """GGUF files grouped by quantization; split files' shards make one offer. Vision projectors
    (mmproj) are not models on their own and are left out."""
    groups: dict[str, Offer] = {}
    for f in sorted(files, key=lambda f: f.name):
        base = os.path.basename(f.name).lower()
        if not base.endswith(".gguf") or base.startswith("mmproj"):
            continue
        key = _SHARD_RE.sub("", f.name)
        offer = groups.setdefault(key, Offer(f.quant or os.path.basename(f.name), [], 0))
        offer.files.append(f.name)
        offer.size = None if offer.size is None or f.size is None else offer.size + f.size
    return sorted(groups.values(), key=lambda o: (o.size is None, o.size or 0))


ShapeLookup = Callable[[str], "tuple[fit.ModelShape, int] | None"]   # repo -> (model shape, context)


def _details(api: Any, item: Any, shapes: ShapeLookup | None, available: int,
             gpu_free: int | None) -> HubModel:
    tags = list(item.tags or [])
    licence = next((t.split(":", 1)[1] for t in tags if t.startswith("license:")), None)
    info = api.model_info(item.id, files_metadata=True)
    files = [RemoteFile(s.rfilename, s.size, s.lfs.sha256 if s.lfs else None) for s in info.siblings or []]
    known = shapes(item.id) if shapes else None
    offers = group_offers(files)
    for offer in offers:
        if offer.size is not None:
            offer.fit = fit.estimate_download(offer.size, known[0] if known else None,
                                              known[1] if known else 4096, available)
            if gpu_free is not None:
                need = offer.fit.total_bytes - offer.fit.overhead_bytes + gpu.GPU_RESERVE
                offer.gpu_verdict = "fits" if need <= gpu_free else "won't fit"
    return HubModel(item.id, int(item.downloads or 0), int(item.likes or 0), licence,
                    item.pipeline_tag, offers, recommend(offers))


def recommend(offers: list[Offer]) -> str | None:
    """The quantization pull would choose (fit.recommend_quant), else the largest one that fits
    in memory or, with a GPU build, on the GPU."""
    best = fit.recommend_quant({o.quant: o.fit for o in offers if o.fit and o.quant in fit.QUANTS})
    fitting = [o for o in offers if (o.fit and o.fit.verdict == "fits") or o.gpu_verdict == "fits"]
    return best or (fitting[-1].quant if fitting else None)


def probe(url: str, timeout: float = 5.0) -> None:
    """One quick request, so an offline machine hears so at once: huggingface_hub's own calls retry
    a refused connection with backoff for about half a minute."""
    from huggingface_hub.utils import get_session

    try:
        get_session().get(f"{url}/api/models", params={"limit": 1}, timeout=timeout)
    except net_errors():
        raise unreachable(url) from None


def search(query: str, *, task: str | None = None, license: str | None = None, fits: bool = False,
           limit: int = 10, shapes: ShapeLookup | None = None,
           available: int | None = None) -> list[HubModel]:
    """GGUF repos matching `query`, most downloaded first, each with its offers and their fit.
    `fits` keeps repos with at least one quantization that fits this machine."""
    from huggingface_hub import HfApi

    url = endpoint()
    api = HfApi(endpoint=url)
    avail = available if available is not None else fit.available_bytes()
    filters = ["gguf"] + ([f"license:{license}"] if license else [])
    gpus = gpu.detect_gpus() if gpu.build_backend() else ()
    gpu_free = gpus[0].free_bytes if gpus else None
    probe(url)
    try:
        items = list(api.list_models(search=query or None, filter=filters, pipeline_tag=task,
                                     sort="downloads", limit=limit))
        with ThreadPoolExecutor(max_workers=4) as pool:
            models = list(pool.map(lambda it: _details(api, it, shapes, avail, gpu_free), items))
    except net_errors():
        raise unreachable(url) from None
    if fits:
        models = [m for m in models if m.best_verdict == "fits"]
    return models
