"""Remote OpenAI-compatible endpoints as models, declared in BAKEOFF_HOME/endpoints.yaml.

The file is meant to be read and edited by people too:

    endpoints:
      big-llama:
        base_url: http://gpu-box:8000/v1
        model: meta-llama/Llama-3.1-70B-Instruct
        api_key_env: VLLM_KEY          # the key itself never lands in the file
        price_in: 0.20                 # USD per 1M input tokens (or hourly_cost: USD per hour)
        price_out: 0.60
        concurrency: 8                 # most requests in flight to this endpoint
        timeout: 120
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import yaml
from pydantic import ValidationError

from ..atomic import write_text_atomic
from ..errors import ConfigError, NotFoundError
from ..settings import Settings
from .ref import Endpoint, ModelRef

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_NAME_HINT = "use letters, digits, '.', '_' or '-' (up to 64 characters)"


def endpoints_path(settings: Settings) -> Path:
    return settings.home / "endpoints.yaml"


def load_endpoints(settings: Settings) -> dict[str, Endpoint]:
    path = endpoints_path(settings)
    if not path.exists():
        return {}
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}{where}: invalid YAML", "fix the file or remove it") from None
    items = (raw.get("endpoints") if isinstance(raw, dict) else None) or {}
    if not isinstance(items, dict):
        raise ConfigError(f"{path}: 'endpoints' must be a mapping of names to settings",
                          "fix the file or remove it")
    out = {}
    for name, body in items.items():
        if not _NAME.match(str(name)):
            raise ConfigError(f"{path}: invalid endpoint name {str(name)!r}", _NAME_HINT)
        try:
            out[str(name)] = Endpoint(**(body or {}))
        except (ValidationError, TypeError) as exc:
            first = exc.errors()[0] if isinstance(exc, ValidationError) else {"loc": (), "msg": str(exc)}
            field = ".".join(str(p) for p in first["loc"])
            raise ConfigError(f"{path}: endpoint {name!r} field {field or '?'}: {first['msg']}",
                              "edit the file or run `bakeoff endpoints remove NAME`") from None
    return out


def save_endpoints(settings: Settings, endpoints: dict[str, Endpoint]) -> None:
    settings.ensure_home()
    path = endpoints_path(settings)
    body = {"endpoints": {n: e.model_dump(exclude_none=True) for n, e in sorted(endpoints.items())}}
    write_text_atomic(path, yaml.safe_dump(body, sort_keys=False))


def add_endpoint(settings: Settings, name: str, endpoint: Endpoint) -> None:
    if not _NAME.match(name):
        raise ConfigError(f"invalid endpoint name {name!r}", _NAME_HINT)
    eps = load_endpoints(settings)
    eps[name] = endpoint
    save_endpoints(settings, eps)


def remove_endpoint(settings: Settings, name: str) -> None:
    eps = load_endpoints(settings)
    if name not in eps:
        raise NotFoundError("endpoint", name, valid=sorted(eps))
    del eps[name]
    save_endpoints(settings, eps)


def ref_for(name: str, ep: Endpoint) -> ModelRef:
    return ModelRef(name=name, engine="openai", source="endpoint", path=None, endpoint=ep)


def endpoint_refs(settings: Settings) -> Iterable[ModelRef]:
    return [ref_for(n, e) for n, e in load_endpoints(settings).items()]
