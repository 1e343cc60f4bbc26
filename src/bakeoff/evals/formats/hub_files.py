"""A Hugging Face Hub dataset's files: from the local cache when they are there, else fetched.

The cache is huggingface_hub's own (HF_HUB_CACHE, or HF_HOME/hub, read when called so a suite run
sees the environment it runs in); HF_ENDPOINT and HF_HUB_OFFLINE are honoured the same way.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

# (repo-relative file names, path of the dataset card or None) -> the files to read
Chooser = Callable[[list[str], Path | None], list[str]]


class HubDatasetError(ValueError):
    """The dataset cannot be had: not cached and the Hub cannot be asked (or says no)."""


class FilesNotCachedError(ValueError):
    """The dataset card declares the files asked for, but the cache does not hold them."""


def cache_dir() -> str:
    if os.environ.get("HF_HUB_CACHE"):
        return os.environ["HF_HUB_CACHE"]
    if os.environ.get("HF_HOME"):
        return str(Path(os.environ["HF_HOME"]) / "hub")
    from huggingface_hub import constants

    return constants.HF_HUB_CACHE


def offline() -> bool:
    """HF_HUB_OFFLINE as set now, or as huggingface_hub read it when it was imported."""
    from huggingface_hub import constants

    now = os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")
    return now or bool(constants.HF_HUB_OFFLINE)


def _cached(repo: str, revision: str | None, choose: Chooser) -> list[Path] | None:
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        root = Path(snapshot_download(repo, repo_type="dataset", revision=revision, cache_dir=cache_dir(),
                                      local_files_only=True))
    except (LocalEntryNotFoundError, FileNotFoundError, ValueError):
        return None
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    card = root / "README.md"
    try:
        chosen = choose(files, card if card.is_file() else None)
    except FilesNotCachedError:
        return None  # the card names the split but its files were never downloaded: ask the Hub
    except ValueError:
        if card.is_file():
            raise    # the card says what exists: a wrong subset or split is the suite's mistake
        return None
    return [root / f for f in chosen]


def dataset_paths(repo: str, revision: str | None, choose: Chooser) -> list[Path]:
    """Local paths of the files `choose` picks, downloading only what the cache lacks."""
    found = _cached(repo, revision, choose)
    if found is not None:
        return found
    if offline():
        raise HubDatasetError(f"dataset {repo} is not in the local Hugging Face cache ({cache_dir()}) and "
                              "HF_HUB_OFFLINE is set — fetch it once when online "
                              f"(`hf download {repo} --repo-type dataset`), or name a local file")
    from huggingface_hub import HfApi, hf_hub_download
    from huggingface_hub.errors import HfHubHTTPError

    endpoint = os.environ.get("HF_ENDPOINT") or None
    try:
        info = HfApi(endpoint=endpoint).dataset_info(repo, revision=revision)
        files = [s.rfilename for s in info.siblings or []]

        def get(name: str) -> Path:
            return Path(hf_hub_download(repo, name, repo_type="dataset", revision=revision,
                                        cache_dir=cache_dir(), endpoint=endpoint))

        card = get("README.md") if "README.md" in files else None
        return [get(f) for f in choose(files, card)]
    except HfHubHTTPError as exc:
        status = getattr(exc.response, "status_code", None)
        raise HubDatasetError(f"the Hub refused dataset {repo} (HTTP {status}): check the name, "
                              "or the token for a gated dataset") from None
    except ValueError:
        raise  # the chooser's answer about subsets and splits
    except Exception as exc:  # noqa: BLE001 - any transport failure (its HTTP client's, TLS, proxy)
        raise HubDatasetError(f"dataset {repo} is not in the local Hugging Face cache ({cache_dir()}) and "
                              f"the Hub cannot be reached ({type(exc).__name__}) — fetch it once when "
                              f"online (`hf download {repo} --repo-type dataset`), or name a local file") from None
