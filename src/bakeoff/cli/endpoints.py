"""`bakeoff endpoints add|list|remove|test`: remote OpenAI-compatible servers as models."""

from __future__ import annotations

import time

import click
from rich.table import Table

from ..engines.base import GenParams, Message, collect
from ..errors import InvalidParamsError, NotFoundError, RemoteError
from ..models.endpoints import Endpoint, add_endpoint, load_endpoints, ref_for, remove_endpoint
from ..settings import get_settings
from .common import console, print_json


@click.group("endpoints")
def endpoints_group() -> None:
    """Remote OpenAI-compatible endpoints (vLLM, SGLang, llama-server, Ollama, Ray Serve, ...)."""


@endpoints_group.command("add")
@click.argument("name")
@click.option("--base-url", required=True, help="e.g. http://gpu-box:8000/v1")
@click.option("--model", "model_id", required=True, help="Model id the server expects.")
@click.option("--api-key-env", default=None, help="Environment variable that holds the API key.")
@click.option("--price-in", type=float, default=None, help="USD per 1M input tokens.")
@click.option("--price-out", type=float, default=None, help="USD per 1M output tokens.")
@click.option("--hourly-cost", type=float, default=None, help="USD per hour of the serving machine.")
@click.option("--concurrency", type=int, default=4, show_default=True, help="Most requests in flight.")
@click.option("--timeout", type=float, default=120.0, show_default=True, help="Seconds per request.")
def add_cmd(name: str, base_url: str, model_id: str, api_key_env: str | None, price_in: float | None,
            price_out: float | None, hourly_cost: float | None, concurrency: int, timeout: float) -> None:
    """Add or replace endpoint NAME (stored in BAKEOFF_HOME/endpoints.yaml)."""
    from pydantic import ValidationError


    if (price_in is None) != (price_out is None):
        raise InvalidParamsError("give both --price-in and --price-out, or --hourly-cost")
    try:
        ep = Endpoint(base_url=base_url, model=model_id, api_key_env=api_key_env, price_in=price_in,
                      price_out=price_out, hourly_cost=hourly_cost, concurrency=concurrency, timeout=timeout)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise InvalidParamsError(f"--{str(err['loc'][0]).replace('_', '-')}: {err['msg']}") from None
    add_endpoint(get_settings(), name, ep)
    console.print(f"added endpoint {name} → {ep.base_url} ({ep.model}); try `bakeoff endpoints test {name}`",
                  markup=False)


@endpoints_group.command("list")
@click.option("--json", "as_json", is_flag=True)
def list_cmd(as_json: bool) -> None:
    """List endpoints."""
    eps = load_endpoints(get_settings())
    if as_json:
        print_json({n: e.model_dump() for n, e in eps.items()})
        return
    t = Table(title=f"{len(eps)} endpoints")
    for c in ("name", "base url", "model", "key env", "price in/out per 1M", "hourly", "concurrency"):
        t.add_column(c)
    for n, e in eps.items():
        price = f"${e.price_in:g} / ${e.price_out:g}" if e.price_in is not None else "-"
        t.add_row(n, e.base_url, e.model, e.api_key_env or "-", price,
                  f"${e.hourly_cost:g}" if e.hourly_cost is not None else "-", str(e.concurrency))
    console.print(t)


@endpoints_group.command("remove")
@click.argument("name")
def remove_cmd(name: str) -> None:
    """Remove endpoint NAME."""
    remove_endpoint(get_settings(), name)
    console.print(f"removed endpoint {name}", markup=False)


@endpoints_group.command("test")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True)
def test_cmd(name: str, as_json: bool) -> None:
    """Check that NAME answers: lists the server's models, then asks for a few tokens."""
    eps = load_endpoints(get_settings())
    if name not in eps:
        raise NotFoundError("endpoint", name, valid=sorted(eps))
    # The remote engine itself, not through open_engine: this check needs its list_models().
    # Imported here because it loads httpx, which listing endpoints never needs.
    from ..engines.openai_remote import RemoteEngine

    engine = RemoteEngine(ref_for(name, eps[name]))
    models = engine.list_models()
    if models and engine.model_id not in models:
        raise RemoteError(name, f"the server has no model {engine.model_id!r}", 404,
                          f"it serves: {', '.join(models[:8])}")
    t0 = time.perf_counter()
    resp = collect(engine.chat([Message(role="user", content="Say OK.")],
                               GenParams(temperature=0, max_tokens=8)))
    result = {"endpoint": name, "ok": True, "server_models": models, "reply": resp.text,
              "ttft_s": resp.timings.ttft_s, "total_s": time.perf_counter() - t0,
              "usage": {"prompt": resp.usage.prompt_tokens, "completion": resp.usage.completion_tokens}}
    if as_json:
        print_json(result)
    else:
        console.print(f"{name}: OK — model {engine.model_id} answered {resp.text.strip()!r} "
                      f"(TTFT {resp.timings.ttft_s * 1000:.0f} ms)", markup=False)
