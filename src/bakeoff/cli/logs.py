"""`bakeoff logs`: recent ask/chat exchanges from the store."""

from __future__ import annotations

import click
from rich.table import Table

from ..store import connect
from ..store.logs import recent_exchanges
from .common import console, print_json


@click.command("logs")
@click.option("-n", "--limit", default=20, show_default=True, help="How many exchanges.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def logs_cmd(limit: int, as_json: bool) -> None:
    """Show recent ask/chat exchanges with model hash, parameters, tokens and timings."""
    rows = recent_exchanges(connect(), limit)
    if as_json:
        print_json(rows)
        return
    t = Table(title=f"last {len(rows)} exchanges")
    for c in ("id", "when", "kind", "model", "sha256", "tokens", "TTFT ms", "out tok/s", "response"):
        t.add_column(c)
    for r in rows:
        tm = r["timings"]
        t.add_row(str(r["id"]), r["created_at"][:19], r["kind"], r["model"], (r["model_sha256"] or "")[:12],
                  f"{r['prompt_tokens']}+{r['completion_tokens']}", f"{tm.get('ttft_s', 0) * 1000:.0f}",
                  f"{tm.get('output_tps', 0):.1f}", r["response"][:60].replace("\n", " "))
    console.print(t)
