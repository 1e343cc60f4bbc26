"""`bakeoff ask` (one prompt, streamed) and `bakeoff chat` (multi-turn terminal chat)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from ..engines.base import Engine, GenParams, Message, Response, Timings, collect
from ..engines.factory import open_engine
from ..engines.options import LoadOptions
from ..errors import BakeoffError, InvalidParamsError
from ..runtime import record_exchange
from .common import (
    DRAFT,
    NO_SPECULATIVE,
    console,
    err_console,
    gen_options,
    gpu_layers_option,
    params_from,
    print_json,
    printable,
    progress,
    spinner,
)
from .errors import report


def load(model: str, n_ctx: int | None, speculative: bool | None = None, draft: str | None = None) -> Engine:
    options = LoadOptions(n_ctx=n_ctx, speculative=speculative, draft=draft)
    with progress("assembling packaged model") as cb, spinner(f"loading {model}…"):
        return open_engine(model, options, progress=cb)



def stream_to_terminal(chunks: Any) -> Response:
    """Print text as it arrives; return the collected response. On a terminal, escape sequences a
    model writes are shown, not run; piped output stays byte-exact."""
    show = printable if sys.stdout.isatty() else str

    def tee() -> Any:
        for c in chunks:
            if c.text:
                sys.stdout.write(show(c.text))
                sys.stdout.flush()
            yield c

    resp = collect(tee())
    sys.stdout.write("\n")
    return resp


def format_stats(resp: Response) -> str:
    t, u = resp.timings, resp.usage
    return (f"[{u.prompt_tokens} prompt + {u.completion_tokens} output tokens · "
            f"TTFT {t.ttft_s * 1000:.0f} ms · prompt {t.prompt_tps:.1f} tok/s · "
            f"output {t.output_tps:.1f} tok/s · load {t.load_s:.2f} s{format_drafts(t)}{format_threads(t)} · "
            f"finish {resp.finish_reason}]")


def format_threads(t: Timings) -> str:
    """The CPU threads llama.cpp used (fewer than set while other processes held cores)."""
    return f" · {t.threads} thread{'s' if t.threads != 1 else ''}" if t.threads else ""


def format_drafts(t: Timings) -> str:
    """Speculative decoding's share, when it drafted anything."""
    if t.acceptance is None:
        return ""
    source = t.speculation.removeprefix("draft:") if t.speculation.startswith("draft:") else ""
    what = f"draft {source}: " if source else "drafts "
    return f" · {what}{t.accepted_tokens}/{t.draft_tokens} accepted ({t.acceptance:.0%})"


def _schema(path: str | None) -> dict | None:
    if not path:
        return None

    try:
        return json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise InvalidParamsError(f"cannot read JSON schema {path}: {exc}", param="json_schema") from None


@click.command("ask")
@gpu_layers_option
@click.argument("model")
@click.argument("prompt")
@click.option("--system", default=None, help="System prompt.")
@click.option("--raw", is_flag=True, help="Raw completion: no chat template.")
@click.option("--schema", "schema_path", default=None, help="JSON schema file the answer must follow.")
@click.option("--ctx", "n_ctx", type=int, default=None, help="Context window in tokens.")
@click.option("--stats", is_flag=True, help="Print usage and timings after the answer.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object with text, usage and timings.")
@NO_SPECULATIVE
@DRAFT
@gen_options()
def ask_cmd(model: str, prompt: str, system: str | None, raw: bool, schema_path: str | None,
            n_ctx: int | None, stats: bool, as_json: bool, speculative: bool | None, draft: str | None,
            **gen: Any) -> None:
    """Ask MODEL one question and stream the answer."""
    params = params_from(gen, _schema(schema_path))
    engine = load(model, n_ctx, speculative, draft)
    messages: list[Message] | str
    if raw:
        messages = prompt
        chunks = engine.complete(prompt, params)
    else:
        messages = ([Message(role="system", content=system)] if system else []) + \
            [Message(role="user", content=prompt)]
        chunks = engine.chat(messages, params)
    resp = collect(chunks) if as_json else stream_to_terminal(chunks)
    record_exchange(engine, "ask", messages, params, resp)
    if as_json:
        out = resp.to_dict()
        out["timings"]["acceptance"] = resp.timings.acceptance
        print_json({"model": engine.ref.name, **out, "settings": engine.info()})
    elif stats:
        err_console.print(format_stats(resp), markup=False)


HELP = "commands: /model NAME · /system TEXT · /reset · /exit"


@click.command("chat")
@gpu_layers_option
@click.argument("model")
@click.option("--system", default=None, help="System prompt.")
@click.option("--ctx", "n_ctx", type=int, default=None, help="Context window in tokens.")
@click.option("--stats/--no-stats", default=False, help="Print timings after each answer.")
@NO_SPECULATIVE
@DRAFT
@gen_options()
def chat_cmd(model: str, system: str | None, n_ctx: int | None, stats: bool, speculative: bool | None,
             draft: str | None, **gen: Any) -> None:
    """Multi-turn chat in the terminal. /model NAME switches model mid-conversation (without
    the --draft model, which drafts for MODEL only)."""
    params: GenParams = params_from(gen)
    engine = load(model, n_ctx, speculative, draft)
    history: list[Message] = []
    console.print(f"chatting with {engine.ref.name} — {HELP}", markup=False)
    while True:
        try:
            line = input(f"{engine.ref.name}> " if sys.stdin.isatty() else "")
        except EOFError:
            break
        line = line.strip()
        if not line:
            continue
        if line.startswith("/"):
            state = _slash_command(line, engine, system, history, n_ctx)
            if state is None:
                break
            engine, system = state
            continue
        history.append(Message(role="user", content=line))
        messages = ([Message(role="system", content=system)] if system else []) + history
        try:
            resp = stream_to_terminal(engine.chat(messages, params))
        except BakeoffError as exc:
            history.pop()
            report(exc)
            continue
        history.append(Message(role="assistant", content=resp.text))
        record_exchange(engine, "chat", messages, params, resp)
        if stats:
            err_console.print(format_stats(resp), markup=False)


def _slash_command(line: str, engine: Engine, system: str | None, history: list[Message],
                   n_ctx: int | None) -> tuple[Engine, str | None] | None:
    """Apply one /command; returns the (engine, system prompt) to go on with, or None to exit."""
    cmd, _, arg = line.partition(" ")
    if cmd in ("/exit", "/quit"):
        return None
    if cmd == "/reset":
        history.clear()
        console.print("(conversation cleared)")
    elif cmd == "/system":
        system = arg or None
        console.print(f"(system prompt {'set' if system else 'cleared'})")
    elif cmd == "/model" and arg:
        try:
            new = load(arg.strip(), n_ctx)
        except BakeoffError as exc:
            report(exc)
            return engine, system
        engine.close()
        engine = new
        console.print(f"(now chatting with {engine.ref.name}; history kept)", markup=False)
    else:
        console.print(HELP, markup=False)
    return engine, system
