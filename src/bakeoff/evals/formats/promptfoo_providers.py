"""promptfoo `providers:` -> Bakeoff models (Contestants).

What maps:
- a local GGUF file: `./models/x.gguf` or `file://models/x.gguf` (relative to the config);
- `openai:chat:MODEL` (or `openai:MODEL`) with `config.apiBaseUrl` -> that OpenAI-compatible
  endpoint (`config.apiKeyEnvar` names the key's environment variable);
- `ollama:chat:NAME[:TAG]` (or `ollama:NAME`) -> the Ollama model on this machine, listed by
  `bakeoff models` as `ollama:NAME:TAG` (TAG defaults to latest, as Ollama's does);
- `bakeoff:MODEL` -> any model name Bakeoff knows;
- `echo` -> answers with the prompt itself, as promptfoo's echo provider does (fixed outputs).
Provider `config` keys that are generation settings apply to that provider only.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from ...errors import BakeoffError, ModelNotFoundError
from ...models.endpoints import Endpoint, ref_for
from ...models.ref import ModelRef
from ...models.registry import Registry
from ..suite import Contestant

MAPS = ("echo (answers with the prompt)", "a .gguf path", "openai:chat:MODEL with config.apiBaseUrl",
        "ollama:chat:NAME",
        "bakeoff:MODEL (any `bakeoff models` name)")
# promptfoo config key -> GenParams field
PARAMS = {"temperature": "temperature", "max_tokens": "max_tokens", "top_p": "top_p", "top_k": "top_k",
          "seed": "seed", "stop": "stop", "min_p": "min_p", "repeat_penalty": "repeat_penalty",
          "num_predict": "max_tokens", "repetition_penalty": "repeat_penalty"}
ENDPOINT_KEYS = {"apiBaseUrl", "apiKeyEnvar", "apiKey"}

Report = Callable[[tuple, str], None]   # (path inside the config, why) -> listed as unsupported


class ProviderError(ValueError):
    """A provider that cannot map; the reader turns it into a SuiteError at the provider's line."""


def provider_entry(raw: Any) -> tuple[str, str | None, dict[str, Any]]:
    """(id, label, config) from a string, {id, label, config} or promptfoo's {ID: {config}} form."""
    if isinstance(raw, str):
        return raw, None, {}
    if isinstance(raw, dict) and "id" in raw:
        return str(raw["id"]), raw.get("label"), dict(raw.get("config") or {})
    if isinstance(raw, dict) and len(raw) == 1:
        pid, body = next(iter(raw.items()))
        body = body or {}
        return str(pid), body.get("label"), dict(body.get("config") or {})
    raise ProviderError("a provider is a string or a mapping with an `id`")


def map_provider(pid: str, label: str | None, config: dict[str, Any], registry: Registry,
                 base_dir: Any, report: Report, where: tuple) -> Contestant:
    params = {PARAMS[k]: v for k, v in config.items() if k in PARAMS}
    for key in config:
        if key not in PARAMS and key not in ENDPOINT_KEYS:
            report((*where, "config", key), "provider setting not supported by Bakeoff (ignored)")
    name = label or pid
    kind, _, rest = pid.partition(":")
    if pid.lower().endswith(".gguf"):
        path = base_dir / pid.removeprefix("file://")
        if not path.is_file():
            raise ProviderError(f"GGUF file {path} not found")
        ref = registry.resolve(str(path))
        return Contestant(_renamed(ref, label), params)
    if kind == "openai":
        return Contestant(_openai_ref(rest, name, config), params)
    if kind == "ollama":
        return Contestant(_renamed(_ollama_ref(rest, registry), label), params)
    if pid == "echo":
        return Contestant(ModelRef(name=label or "echo", engine="echo", source="promptfoo"), params)
    if kind == "bakeoff" and rest:
        try:
            return Contestant(_renamed(registry.resolve(rest), label), params)
        except ModelNotFoundError as exc:
            raise ProviderError(str(exc)) from None
    raise ProviderError(f"unknown provider {pid!r}; Bakeoff maps: {'; '.join(MAPS)}")


def _renamed(ref: ModelRef, label: str | None) -> ModelRef:
    if label:
        ref.aliases = [ref.name, *ref.aliases]
        ref.name = label
    return ref


def _openai_ref(rest: str, name: str, config: dict[str, Any]) -> ModelRef:
    mode, _, model = rest.partition(":")
    if mode not in ("chat", "responses") or not model:
        if mode in ("completion", "embedding", "embeddings", "assistant", "image"):
            raise ProviderError(f"openai:{mode} providers are not supported; use openai:chat:MODEL")
        model = rest  # openai:MODEL is the chat shorthand
    base_url = config.get("apiBaseUrl") or os.environ.get("OPENAI_BASE_URL") or os.environ.get("OPENAI_API_BASE_URL")
    if not base_url:
        raise ProviderError(f"openai:chat:{model} needs config.apiBaseUrl (or OPENAI_BASE_URL): Bakeoff "
                            "only calls endpoints you name")
    key_env = config.get("apiKeyEnvar") or ("OPENAI_API_KEY" if os.environ.get("OPENAI_API_KEY") else None)
    try:
        endpoint = Endpoint(base_url=str(base_url), model=model, api_key_env=key_env)
    except ValueError as exc:
        raise ProviderError(f"apiBaseUrl: {exc}") from None
    return ref_for(name, endpoint)


def _ollama_ref(rest: str, registry: Registry) -> ModelRef:
    mode, _, model = rest.partition(":")
    if mode in ("completion", "embedding", "embeddings"):
        raise ProviderError(f"ollama:{mode} providers are not supported; use ollama:chat:NAME")
    if mode != "chat":
        model = rest
    if not model:
        raise ProviderError("ollama provider without a model name; write ollama:chat:NAME")
    name, _, tag = model.partition(":")
    wanted = f"ollama:{name}:{tag or 'latest'}"
    try:
        return registry.resolve(wanted)
    except ModelNotFoundError:
        found = sorted(r.name for r in registry.list() if r.name.startswith("ollama:"))
        raise ProviderError(f"Ollama model {name}:{tag or 'latest'} is not on this machine "
                            f"(looked for {wanted}); Ollama models found: "
                            f"{', '.join(found) or 'none'}") from None


def judge_name(raw: Any) -> str | None:
    """A grading provider (defaultTest.options.provider) as a Bakeoff model name, if it is one."""
    try:
        pid, _, _ = provider_entry(raw)
    except ProviderError:
        return None
    kind, _, rest = pid.partition(":")
    if pid.lower().endswith(".gguf"):
        return pid.removeprefix("file://")
    if kind == "bakeoff":
        return rest
    if kind == "ollama":
        mode, _, model = rest.partition(":")
        model = model if mode == "chat" else rest
        name, _, tag = model.partition(":")
        return f"ollama:{name}:{tag or 'latest'}"
    return None


def check_unique(contestants: list[Contestant]) -> None:
    seen: set[str] = set()
    for c in contestants:
        if c.ref.name in seen:
            raise BakeoffError(f"two providers are both named {c.ref.name!r}", "give one a `label:`")
        seen.add(c.ref.name)
