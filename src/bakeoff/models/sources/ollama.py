"""Ollama's model store: `$OLLAMA_MODELS`, else `~/.ollama/models` (and the Linux service's
`/usr/share/ollama/.ollama/models`).

Layout (Ollama's server/modelpath.go and types/model/name.go):

    manifests/<host>/<namespace>/<model>/<tag>     JSON: {"layers": [{"mediaType", "digest", "size"}]}
    blobs/sha256-<hex>                             each layer's content, named by its digest

The layer of media type `application/vnd.ollama.image.model` is the GGUF file; `...image.template`
(a Go text/template), `...image.params` (JSON default options) and `...image.system` ride along.
Names follow Ollama's own shortest form: `registry.ollama.ai/library/` is left out, other hosts and
namespaces are kept, so `ollama:llama3.2:1b`, `ollama:someone/model:tag`,
`ollama:hf.co/owner/repo:Q4_K_M`; a `latest` tag may also be left out, as in `ollama run`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ... import jsontext
from ...settings import Settings
from ..ref import ModelRef
from . import Scan, digest_from_name, env_or, found, read_small

DEFAULT_HOST, DEFAULT_NAMESPACE, DEFAULT_TAG = "registry.ollama.ai", "library", "latest"
MEDIA = "application/vnd.ollama.image."
SERVICE_STORE = Path("/usr/share/ollama/.ollama/models")
HF_HOSTS = ("hf.co", "huggingface.co")


class OllamaSource:
    name = "ollama"
    title = "Ollama"

    def roots(self, settings: Settings) -> list[Path]:
        home = settings.user_home
        # The Linux service install keeps its store apart; looked at only for the real home.
        return env_or("OLLAMA_MODELS", lambda: [home / ".ollama" / "models"] +
                      ([SERVICE_STORE] if home == Path.home() else []))

    def scan(self, root: Path, scan: Scan) -> Iterator[ModelRef]:
        manifests = root / "manifests"
        for host in scan.entries(manifests):
            for namespace in scan.entries(Path(host.path)):
                for model in scan.entries(Path(namespace.path)):
                    for tag in scan.entries(Path(model.path)):
                        parts = (host.name, namespace.name, model.name, tag.name)
                        ref = self._model(root, Path(tag.path), parts, scan)
                        if ref is not None:
                            yield ref

    def _model(self, root: Path, manifest: Path, parts: tuple[str, str, str, str],
               scan: Scan) -> ModelRef | None:
        layers = _layers(manifest, scan)
        if layers is None:
            return None
        by_type = {str(layer.get("mediaType", "")).split(";")[0].removeprefix(MEDIA): layer
                   for layer in layers if isinstance(layer, dict)}
        model = by_type.get("model")
        if model is None:
            kind = "safetensors tensors" if "tensor" in by_type else "no model layer"
            scan.note(manifest, f"not a GGUF model ({kind})")
            return None
        blob = _blob(root, model.get("digest"))
        if blob is None:
            scan.note(manifest, f"model layer has an invalid digest {model.get('digest')!r}")
            return None
        for kind, what in (("adapter", "a LoRA adapter"), ("projector", "a vision projector")):
            if kind in by_type:
                scan.note(manifest, f"has {what} layer, which bakeoff does not apply; the base model is listed")
        name, aliases = display_name(*parts)
        host, namespace, model_name, _ = parts
        repo = f"{namespace}/{model_name}" if host in HF_HOSTS else None
        return found(self.name, name, blob, root, aliases, repo=repo,
                     sha256=digest_from_name(blob.name),
                     template=_text(root, by_type.get("template")),
                     params=_params(root, by_type.get("params")),
                     system=_text(root, by_type.get("system")))


def display_name(host: str, namespace: str, model: str, tag: str) -> tuple[str, list[str]]:
    """`ollama:` + Ollama's shortest name, and the other spellings that mean the same model."""
    prefix = "" if host == DEFAULT_HOST else f"{host}/"
    if prefix or namespace != DEFAULT_NAMESPACE:
        prefix += f"{namespace}/"
    name = f"ollama:{prefix}{model}:{tag}"
    aliases = [f"ollama:{prefix}{model}"] if tag == DEFAULT_TAG else []
    return name, aliases


def _layers(manifest: Path, scan: Scan) -> list[Any] | None:
    text = read_small(manifest)
    if text is None:
        scan.note(manifest, "manifest cannot be read")
        return None
    try:
        layers = jsontext.loads(text).get("layers")
    except (ValueError, AttributeError):
        layers = None
    if not isinstance(layers, list):
        scan.note(manifest, "not an Ollama manifest (no layers list)")
        return None
    return layers


def _blob(root: Path, digest: Any) -> Path | None:
    if not isinstance(digest, str) or digest_from_name(digest) is None:
        return None
    return root / "blobs" / digest.replace(":", "-")


def _text(root: Path, layer: dict[str, Any] | None) -> str | None:
    path = _blob(root, layer.get("digest")) if layer else None
    return read_small(path) if path else None


def _params(root: Path, layer: dict[str, Any] | None) -> dict[str, Any]:
    text = _text(root, layer)
    try:
        value = jsontext.loads(text) if text else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


SOURCE = OllamaSource()
