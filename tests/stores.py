"""Other tools' model stores, laid out for real in a temp home the way each tool writes them
(see the docstrings in bakeoff.models.sources.*), around given GGUF bytes."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

OLLAMA = "application/vnd.ollama.image."


def _blob(blobs: Path, data: bytes) -> str:
    digest = hashlib.sha256(data).hexdigest()
    blobs.mkdir(parents=True, exist_ok=True)
    (blobs / f"sha256-{digest}").write_bytes(data)
    return f"sha256:{digest}"


def ollama(home: Path, model: str, tag: str, gguf: bytes, *, namespace: str = "library",
           host: str = "registry.ollama.ai", template: str | None = None,
           params: dict[str, Any] | None = None, system: str | None = None) -> Path:
    """~/.ollama/models/{manifests/HOST/NS/MODEL/TAG, blobs/sha256-HEX}; returns the model blob."""
    root = home / ".ollama" / "models"
    layers = [{"mediaType": OLLAMA + "model", "digest": _blob(root / "blobs", gguf), "size": len(gguf)}]
    for kind, text in (("template", template), ("params", json.dumps(params) if params else None),
                       ("system", system)):
        if text is not None:
            data = text.encode()
            layers.append({"mediaType": OLLAMA + kind, "digest": _blob(root / "blobs", data),
                           "size": len(data)})
    config = _blob(root / "blobs", b'{"model_format":"gguf"}')
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                           "digest": config, "size": 23}, "layers": layers}
    path = root / "manifests" / host / namespace / model / tag
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(manifest))
    return root / "blobs" / layers[0]["digest"].replace(":", "-")


def hf_cache(home: Path, repo: str, file: str, gguf: bytes | None, rev: str = "a" * 40) -> Path:
    """~/.cache/huggingface/hub/models--OWNER--REPO/{blobs/SHA256, snapshots/REV/FILE -> blob,
    refs/main}; gguf=None leaves a broken link (blob missing). Returns the snapshot path."""
    repo_dir = home / ".cache" / "huggingface" / "hub" / ("models--" + repo.replace("/", "--"))
    digest = hashlib.sha256(gguf or file.encode()).hexdigest()
    (repo_dir / "blobs").mkdir(parents=True, exist_ok=True)
    if gguf is not None:
        (repo_dir / "blobs" / digest).write_bytes(gguf)
    link = repo_dir / "snapshots" / rev / file
    link.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(os.path.relpath(repo_dir / "blobs" / digest, link.parent), link)
    (repo_dir / "refs").mkdir(exist_ok=True)
    (repo_dir / "refs" / "main").write_text(rev)
    return link


def lmstudio(home: Path, repo: str, file: str, gguf: bytes, legacy: bool = False) -> Path:
    root = home / ".cache" / "lm-studio" / "models" if legacy else home / ".lmstudio" / "models"
    path = root / repo / file
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gguf)
    return path


def gpt4all(home: Path, file: str, gguf: bytes) -> Path:
    path = home / ".local" / "share" / "nomic.ai" / "GPT4All" / file
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gguf)
    return path


def llamacpp(home: Path, repo: str, file: str, tag: str, gguf: bytes) -> Path:
    """~/.cache/llama.cpp/OWNER_REPO_FILE beside manifest=OWNER=REPO=TAG.json."""
    root = home / ".cache" / "llama.cpp"
    root.mkdir(parents=True, exist_ok=True)
    owner, name = repo.split("/")
    path = root / f"{owner}_{name}_{file.replace('/', '_')}"
    path.write_bytes(gguf)
    (root / f"manifest={owner}={name}={tag}.json").write_text(json.dumps({"ggufFile": {"rfilename": file}}))
    return path
