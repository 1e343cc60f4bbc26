"""Shared CLI helpers: generation options derived from GenParams, output, progress."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click
from rich.console import Console

from ..engines.base import GenParams
from ..errors import NotFoundError
from ..settings import get_settings
from ..store import connect
from ..store.evals import get_run, latest_run_id, list_runs
from ..terminal import printable  # noqa: F401 - the CLI's modules import it from here


class SafeConsole(Console):
    """Every string it renders (print arguments, table cells) is data: no Rich markup is applied
    ("[red]" in an endpoint name stays text) and control characters are made visible."""

    def __init__(self, **kwargs: Any):
        super().__init__(markup=False, **kwargs)

    def render_str(self, text: str, **kwargs: Any) -> Any:
        kwargs["markup"] = False
        return super().render_str(printable(text), **kwargs)


console = SafeConsole(stderr=False, highlight=False, width=None if sys.stdout.isatty() else 160)
err_console = SafeConsole(stderr=True, highlight=False)

_TYPES = {int: int, float: float, str: str}


def gen_options(defaults: dict[str, Any] | None = None) -> Callable:
    """Click options for every scalar GenParams field, with the field's description as help."""
    defaults = defaults or {}

    def deco(fn: Callable) -> Callable:
        for name, field in reversed(list(GenParams.model_fields.items())):
            if name in ("json_schema", "logprobs"):
                continue
            flag = "--" + name.replace("_", "-")
            if name == "stop":
                fn = click.option(flag, multiple=True, help=field.description)(fn)
                continue
            ann = field.annotation
            typ = next((t for t in _TYPES if ann is t or (getattr(ann, "__args__", None) and t in ann.__args__)), str)
            default = defaults.get(name, field.default)
            fn = click.option(flag, type=_TYPES[typ], default=default, show_default=True,
                              help=field.description)(fn)
        return fn

    return deco


def params_from(kwargs: dict[str, Any], json_schema: dict | None = None) -> GenParams:
    values = {k: kwargs.pop(k) for k in list(kwargs) if k in GenParams.model_fields}
    values["stop"] = list(values.get("stop") or [])
    if json_schema is not None:
        values["json_schema"] = json_schema
    return GenParams.build(**values)


def print_json(obj: Any) -> None:
    click.echo(json.dumps(obj, indent=2, default=str))


def human_count(n: float | None) -> str:
    if n is None:
        return "?"
    for unit, div in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= div:
            return f"{n / div:.1f}{unit}"
    return str(int(n))


@contextmanager
def progress(label: str) -> Iterator[Callable[[int, int], None]]:
    """A byte-progress callback shown on stderr while a package is assembled or a file hashed."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn

    bar = Progress(TextColumn(label), BarColumn(), DownloadColumn(), console=err_console,
                   transient=True, disable=not sys.stderr.isatty())
    task = None
    with bar:
        def update(done: int, total: int) -> None:
            nonlocal task
            if task is None:
                task = bar.add_task(label, total=total)
            bar.update(task, completed=done)

        yield update


@contextmanager
def spinner(label: str) -> Iterator[None]:
    with err_console.status(label, spinner="dots") if sys.stderr.isatty() else _null():
        yield


@contextmanager
def _null() -> Iterator[None]:
    yield


def load_run(ref: str) -> dict[str, Any]:
    """A run by id, or `latest`; unknown ids name the valid ones."""
    db = connect()
    run_id: int | None
    if ref in ("latest", "last"):
        run_id = latest_run_id(db)
    else:
        try:
            run_id = int(ref.removeprefix("run-"))
        except ValueError:
            run_id = None
    run = get_run(db, run_id) if run_id is not None else None
    if run is None:
        valid = [str(r["id"]) for r in list_runs(db, 10)]
        raise NotFoundError("run", ref, valid=valid or ["(none yet: run `bakeoff run`)"])
    return run


def _set_gpu_layers(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value is None:
        return
    value = value.strip().lower()
    if value != "auto" and not value.isdigit():
        raise click.BadParameter(f"{value!r} is neither a layer count nor 'auto'", ctx, param)
    get_settings().gpu_layers = "auto" if value == "auto" else int(value)


def gpu_layers_option(fn: Callable) -> Callable:
    """`--gpu-layers N|auto` for every command that loads local models: it sets the gpu_layers
    setting (BAKEOFF_GPU_LAYERS) for this run, which the llama.cpp engine reads at load time."""
    return click.option("--gpu-layers", default=None, expose_value=False, callback=_set_gpu_layers,
                        metavar="N|auto", help="Model layers on the GPU: a count, or auto (all that "
                        "fit; default: the gpu_layers setting, auto).")(fn)


NO_SPECULATIVE = click.option(
    "--speculative/--no-speculative", "speculative", default=None,
    help="Speculative decoding: prompt lookup (default: the speculative setting, off), or the --draft "
    "model (on when one is named). Greedy answers are the same either way; sampled ones follow the "
    "same distribution.")
DRAFT = click.option(
    "--draft", "draft", default=None, metavar="MODEL",
    help="A smaller model with the same tokenizer drafts tokens for the model to verify in one "
    "batch (speculative decoding; answers unchanged). Checked for vocabulary, size and memory "
    "before anything loads.")
