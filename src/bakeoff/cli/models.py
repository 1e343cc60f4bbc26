"""`bakeoff models` and `bakeoff show`."""

from __future__ import annotations

from typing import Any

import click
from rich.table import Table

from ..errors import ModelFileError
from ..estimates import human_bytes
from ..models import fit
from ..models.gguf_info import read_gguf_info
from ..models.registry import Registry
from .common import console, human_count, print_json, progress


def _row(ref: Any) -> dict[str, Any]:
    row: dict[str, Any] = {**ref.to_dict()}
    if not ref.path:
        row.update(status="remote" if ref.is_remote else "missing")
        return row
    try:
        info = read_gguf_info(ref.path)
    except ModelFileError as exc:
        row.update(status=f"invalid: {exc.problem}")
        return row
    row.update(status="ok", architecture=info.architecture, n_params=info.n_params,
               quantization=info.quantization, file_size=info.file_size,
               context_length=info.context_length, license=info.license or ref.license)
    return row


def list_models() -> list[dict[str, Any]]:
    with progress("assembling packaged model") as cb:
        refs = Registry(progress=cb).list()
    rows = [_row(r) for r in refs]
    for hook in ROW_HOOKS:
        hook(rows)
    return rows


# Other features add columns (catalog licence/openness matching) by appending here.
ROW_HOOKS: list[Any] = []
EXTRA_COLUMNS: list[str] = ["openness"]


@click.command("models")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def models_cmd(as_json: bool) -> None:
    """List the models you can use: packaged, local GGUF files and endpoints."""
    rows = list_models()
    if as_json:
        print_json(rows)
        return
    table = Table(title=f"{len(rows)} models")
    # Columns added by ROW_HOOKS (e.g. catalog openness) show when any row has them.
    extra = [c for c in EXTRA_COLUMNS if any(c in r for r in rows)]
    for col in ("name", "aliases", "arch", "params", "quant", "size", "context", "licence", "source", *extra):
        table.add_column(col)
    for r in rows:
        table.add_row(r["name"], ", ".join(r["aliases"]), r.get("architecture", r["status"]),
                      human_count(r.get("n_params")), r.get("quantization", "-"),
                      human_bytes(r.get("file_size")), str(r.get("context_length") or "-"),
                      r.get("license") or "?", r["source"], *(str(r.get(c) or "-") for c in extra))
    console.print(table)


@click.command("show")
@click.argument("model")
@click.option("--ctx", "n_ctx", type=int, default=None,
              help="Context length for the memory estimate (default: the model's).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def show_cmd(model: str, n_ctx: int | None, as_json: bool) -> None:
    """Show a model's metadata, chat template and whether it fits in this machine's memory."""
    with progress("assembling packaged model") as cb:
        ref = Registry(progress=cb).resolve(model)
    if not ref.path:
        out = {"model": ref.to_dict(), "remote": ref.endpoint.model_dump() if ref.endpoint else {}}
        print_json(out) if as_json else console.print(out)
        return
    from ..settings import get_settings
    from ..tune.registry import lineage_of, summary

    info = read_gguf_info(ref.path)
    est = fit.estimate(info, n_ctx)
    lineage = lineage_of(ref, get_settings())
    if as_json:
        print_json({"model": ref.to_dict(), "gguf": info.to_dict(), "memory": est.to_dict(),
                    **({"lineage": lineage.model_dump(mode="json")} if lineage else {})})
        return
    t = Table(show_header=False, title=ref.name)
    for k, v in [("path", info.path), ("aliases", ", ".join(ref.aliases) or "-"),
                 ("architecture", info.architecture), ("name", info.name or "-"),
                 ("parameters", f"{human_count(info.n_params)} ({info.n_params:,})"),
                 ("quantization", info.quantization), ("file size", human_bytes(info.file_size)),
                 ("context length", str(info.context_length)), ("layers", str(info.n_layer)),
                 ("embedding", str(info.n_embd)), ("heads / kv heads", f"{info.n_head} / {info.n_head_kv}"),
                 ("vocabulary", str(info.n_vocab)), ("licence", info.license or ref.license or "?")]:
        t.add_row(k, v)
    if lineage:  # a tuned model: the adapter on top of the base file, and where it came from
        for k, v in [("adapter", ", ".join(a.path for a in ref.adapters)), *summary(lineage).items()]:
            t.add_row(k, v)
    console.print(t)
    m = Table(title=f"memory at context {est.n_ctx}")
    for c in ("weights", "KV cache", "compute", "overhead", "total", "available", "verdict"):
        m.add_column(c)
    m.add_row(*(human_bytes(x) for x in (est.weights_bytes, est.kv_cache_bytes, est.compute_bytes,
                                          est.overhead_bytes, est.total_bytes, est.available_bytes)),
              est.verdict)
    console.print(m)
    console.print("[bold]chat template[/bold]")
    console.print(info.chat_template or "(none: plain 'User:/Assistant:' prompts are used)", markup=False)
    console.print("[bold]metadata[/bold]")
    for k, v in sorted(info.metadata.items()):
        if k != "tokenizer.chat_template":
            console.print(f"  {k} = {v}", markup=False)


def register(cli: click.Group) -> None:
    cli.add_command(models_cmd)
    cli.add_command(show_cmd)
