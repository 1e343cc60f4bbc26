"""`bakeoff serve`: the OpenAI-compatible API (and the web UI) on loopback by default."""

from __future__ import annotations

import click

from .. import notices
from ..errors import ConfigError
from ..hosts import is_loopback
from ..models.registry import Registry
from ..settings import get_settings
from .common import NO_SPECULATIVE, gpu_layers_option


def check_bind(host: str, api_key: str | None) -> None:
    """Refuse to expose the server beyond this machine without an API key."""
    if not is_loopback(host) and not api_key:
        raise ConfigError(f"refusing to listen on {host} without an API key",
                          "pass --api-key (or set BAKEOFF_API_KEY), or bind 127.0.0.1")


def check_models(names: list[str]) -> list[str]:
    """Resolve --models up front so a typo fails at start, not at the first request."""
    reg = Registry()
    return [reg.resolve(n).name for n in names]


@click.command("serve")
@gpu_layers_option
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to bind; anything but loopback needs --api-key.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="TCP port.")
@click.option("--models", "models", multiple=True,
              help="Serve only these models (names or aliases; repeat or comma-separate). Default: all.")
@click.option("--api-key", default=None, envvar="BAKEOFF_API_KEY",
              help="Require Authorization: Bearer KEY on every request but /health [env: BAKEOFF_API_KEY].")
@click.option("--slots", default=8, show_default=True, type=click.IntRange(1, 64),
              help="Requests decoded together per llama.cpp model (continuous batching).")
@click.option("--max-queue", default=None, type=click.IntRange(0, 10000),
              help="Requests that may wait for a slot before 429 [default: 4 x slots].")
@click.option("--ctx", "n_ctx", default=None, type=click.IntRange(64, 1 << 20),
              help="Context window of one request [default: BAKEOFF_N_CTX, up to the model's]. Each slot gets "
                   "all of it when slots x ctx of KV cache fits 1 GiB, else the slots share it.")
@click.option("--threads", default=None, type=click.IntRange(1, 512),
              help="CPU threads for llama.cpp [default: physical cores].")
@NO_SPECULATIVE
def serve_cmd(host: str, port: int, models: tuple[str, ...], api_key: str | None, slots: int,
              max_queue: int | None, n_ctx: int | None, threads: int | None, speculative: bool | None) -> None:
    """Serve models behind an OpenAI-compatible API (http://HOST:PORT/v1)."""
    import uvicorn

    from ..server.app import create_app  # FastAPI and the routes: loaded only to serve

    check_bind(host, api_key)
    notices.to_log()   # a one-time measurement while serving is a log line, like the server's others
    if threads:
        get_settings().threads = threads   # like --gpu-layers: this run's settings, read at load
    if speculative is not None:
        get_settings().speculative = speculative
    names = check_models([n.strip() for m in models for n in m.split(",") if n.strip()])
    app = create_app(get_settings(), names or None, api_key=api_key, host=host, slots=slots,
                     max_queue=max_queue, n_ctx=n_ctx)
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"serving {', '.join(names) or 'all models'} at http://{shown}:{port}/v1 "
               f"({slots} slots per model{', API key required' if api_key else ''}); Ctrl-C stops",
               err=True)
    uvicorn.run(app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=5)
