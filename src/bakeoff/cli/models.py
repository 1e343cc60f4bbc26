"""`bakeoff models` and `bakeoff show`."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import click
from rich.table import Table

from ..catalog.match import annotate_rows
from ..engines.toolcalls import describe_format
from ..errors import ModelFileError
from ..estimates import human_bytes
from ..models import fit, gpu
from ..models.gguf_info import GGUFInfo, read_gguf_info
from ..models.ref import ModelRef
from ..models.registry import Registry
from ..models.sources import SOURCES, check_present
from ..settings import get_settings
from ..tune.registry import Lineage, lineage_of, summary
from .common import console, err_console, human_count, print_json, progress


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


def list_models(source: str | None = None, notes: list[str] | None = None) -> list[dict[str, Any]]:
    """Rows for `bakeoff models`; `source` keeps models found there, `notes` collects what the
    listing skipped."""
    with progress("assembling packaged model") as cb:
        registry = Registry(progress=cb)
        refs = registry.list()
    if source is not None:
        refs = [r for r in refs if source in (r.sources or [r.source])]
    if notes is not None:
        notes.extend(registry.notes)
    rows = [_row(r) for r in refs]
    annotate_rows(rows)   # the catalog's id, licence and openness for files it knows
    return rows


def source_names() -> list[str]:
    return ["packaged", "local", *SOURCES, "endpoint"]


# Columns the catalog adds (annotate_rows), shown when any row has them.
EXTRA_COLUMNS: list[str] = ["openness"]


def shown_aliases(row: dict[str, Any]) -> list[str]:
    """Aliases worth a line in the table: not the `.gguf`-less spelling of a name already shown."""
    names = [row["name"], *row["aliases"]]
    return [a for a in row["aliases"] if not any(a + ".gguf" == n for n in names)]


@click.command("models")
@click.option("--source", type=click.Choice(source_names()), default=None,
              help="Only models found in this source.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def models_cmd(source: str | None, as_json: bool) -> None:
    """List the models you can use: packaged, your GGUF files, the ones Ollama, LM Studio,
    GPT4All, llama.cpp and the Hugging Face cache already have (used in place), and endpoints."""
    notes: list[str] = []
    rows = list_models(source, notes)
    for note in notes:   # on stderr, so --json stays one JSON list on stdout
        err_console.print(f"note: {note}", markup=False, style="dim")
    if as_json:
        print_json(rows)
        return
    table = Table(title=f"{len(rows)} models")
    extra = [c for c in EXTRA_COLUMNS if any(c in r for r in rows)]
    for col in ("name", "aliases", "arch", "params", "quant", "size", "context", "licence", "source", *extra):
        table.add_column(col, overflow="fold" if col in ("name", "aliases") else "ellipsis")
    for r in rows:
        table.add_row(r["name"], ", ".join(shown_aliases(r)), r.get("architecture", r["status"]),
                      human_count(r.get("n_params")), r.get("quantization", "-"),
                      human_bytes(r.get("file_size")), str(r.get("context_length") or "-"),
                      r.get("license") or "?", ", ".join(r["sources"]), *(str(r.get(c) or "-") for c in extra))
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
    info = read_gguf_info(check_present(ref).path)
    est = fit.estimate(info, n_ctx)
    offload = gpu.plan(get_settings().gpu_layers, info, est.n_ctx)
    lineage = lineage_of(ref, get_settings())
    if as_json:
        print_json({"model": ref.to_dict(), "origin": asdict(ref.origin) if ref.origin else None,
                    "gguf": info.to_dict(), "memory": est.to_dict(),
                    "gpu": {**asdict(offload), "device": offload.device},
                    "tool_calls": describe_format(info.chat_template),
                    **({"lineage": lineage.model_dump(mode="json")} if lineage else {})})
        return
    console.print(_facts_table(ref, info, lineage))
    console.print(_memory_table(est))
    console.print(gpu_line(offload), markup=False)
    _print_template_and_metadata(ref, info)


def _known(value: object) -> str:
    """A fact from the file, or "-" where the file lacks it (or stores it with the wrong type)."""
    return "-" if value is None else str(value)


def _facts_table(ref: ModelRef, info: GGUFInfo, lineage: Lineage | None) -> Table:
    """Where the file is and what it holds; for a tuned model, its adapter and where it came from."""
    t = Table(show_header=False, title=ref.name)
    for k, v in [("path", info.path), ("aliases", ", ".join(ref.aliases) or "-"),
                 ("found in", ", ".join(ref.sources or [ref.source])),
                 ("repo", ref.origin.repo if ref.origin and ref.origin.repo else "-"),
                 ("architecture", info.architecture), ("name", info.name or "-"),
                 ("parameters", f"{human_count(info.n_params)} ({info.n_params:,})"),
                 ("quantization", info.quantization), ("file size", human_bytes(info.file_size)),
                 ("context length", _known(info.context_length)), ("layers", _known(info.n_layer)),
                 ("embedding", _known(info.n_embd)),
                 ("heads / kv heads", f"{_known(info.n_head)} / {_known(info.n_head_kv)}"),
                 ("vocabulary", _known(info.n_vocab)), ("licence", info.license or ref.license or "?")]:
        t.add_row(k, v)
    if lineage:
        adapter = ", ".join(a.path for a in ref.adapters) or "folded into this file (merged)"
        for k, v in [("adapter", adapter), *summary(lineage).items()]:
            t.add_row(k, v)
    return t


def _memory_table(est: fit.FitEstimate) -> Table:
    m = Table(title=f"memory at context {est.n_ctx}")
    for c in ("weights", "KV cache", "compute", "overhead", "total", "available", "verdict"):
        m.add_column(c)
    m.add_row(*(human_bytes(x) for x in (est.weights_bytes, est.kv_cache_bytes, est.compute_bytes,
                                          est.overhead_bytes, est.total_bytes, est.available_bytes)),
              est.verdict)
    return m


def _print_template_and_metadata(ref: ModelRef, info: GGUFInfo) -> None:
    console.print("chat template", style="bold")
    template = info.metadata.get("tokenizer.chat_template")   # a string, or one too long to read
    console.print(str(template) if template else "(none: plain 'User:/Assistant:' prompts are used)",
                  markup=False)
    _print_store_defaults(ref)
    console.print(f"tool calls (bakeoff serve): {describe_format(info.chat_template)}", soft_wrap=True,
                  highlight=False)
    console.print("metadata", style="bold")
    for k, v in sorted(info.metadata.items()):
        if k != "tokenizer.chat_template":
            console.print(f"  {k} = {v}", markup=False)


def gpu_line(o: Any) -> str:
    """One line on GPU offload: which GPU, how many layers fit, what will run where."""
    total = (o.n_layer or 0) + 1
    if o.gpu is None:
        return f"GPU: none — {o.reason}; runs on the CPU"
    room = f"{o.gpu.name}, {human_bytes(o.gpu.free_bytes)} free: {min(o.fit_layers or 0, total)}/{total} layers fit"
    if o.backend is None:
        return f"GPU: {room}; runs on the CPU — {o.reason}"
    return f"GPU: {room}; --gpu-layers {o.n_gpu_layers} ({o.reason}) -> runs on {o.device}"


def _print_store_defaults(ref: Any) -> None:
    """What the tool that stores the model pairs with it (Ollama's template, parameters, system)."""
    o = ref.origin
    if o is None or not (o.template or o.params or o.system):
        return
    console.print(f"{o.tool} template (Go template; bakeoff uses the GGUF chat template above)", style="bold")
    console.print(o.template or "(none)", markup=False)
    if o.params:
        console.print(f"{o.tool} parameters", style="bold")
        for k, v in sorted(o.params.items()):
            console.print(f"  {k} = {v}", markup=False)
    if o.system:
        console.print(f"{o.tool} system prompt", style="bold")
        console.print(o.system, markup=False)
