"""`bakeoff catalog` (list, tree); show and check live in catalog_card.py, `bakeoff recommend` in
recommend.py."""

from __future__ import annotations

from typing import Any

import click
from rich.table import Table
from rich.tree import Tree

from ..catalog import load as catalog_load  # catalog_load.catalog(): looked up per call, swappable in tests
from ..catalog.queries import Filters, check_choice, query
from ..evals.report import reference_prices
from ..freshness import STALE_LABEL, is_stale, stale_note
from .catalog_card import check_cmd, show_cmd
from .common import console, print_json


def _list_table(rows: list[dict[str, Any]]) -> Table:
    t = Table(title=f"{len(rows)} catalog models")
    for col in ("id", "family", "released", "params", "context", "licence", "commercial", "open", "MOF", "quality",
                "tasks"):
        t.add_column(col, no_wrap=col == "id", overflow="fold")
    for r in rows:
        params = f"{r['params_b']:g}B" + (f" ({r['active_params_b']:g}B active)" if r["active_params_b"] else "")
        quality = f"{r['quality']:.1f}" if r["quality"] is not None else "?"
        t.add_row(r["id"], r["family"], r["released"] or "?", params, str(r["context"] or "?"), r["license"],
                  r["commercial"], f"{r['criteria']}/5", {1: "I", 2: "II", 3: "III"}.get(r["mof"], "-"), quality,
                  ", ".join(r["tasks"]))
    return t


@click.group("catalog", invoke_without_command=True)
@click.option("--task", help="Only models for this task (chat, code, math, medical, multilingual, ...).")
@click.option("--license", "license_", metavar="ID", help="Only models under this licence (e.g. apache-2.0).")
@click.option("--commercial", is_flag=True, help="Only models whose licence (and ancestors') allows commercial use.")
@click.option("--open", "open_", metavar="LEVEL",
              help="At least N of the 5 openness criteria (0-5), or mof-iii / mof-ii / mof-i.")
@click.option("--max-params", metavar="SIZE", help="At most this many parameters, e.g. 8B or 500M.")
@click.option("--min-context", metavar="N", help="At least this context length, e.g. 32k.")
@click.option("--family", help="Only this family (e.g. llama-2).")
@click.option("--fits", metavar="QUANT", help="Only models that fit this machine at Q4_K_M, Q8_0 or F16.")
@click.option("--sort", "sort", default="id", show_default=True, help="Column to sort by.")
@click.option("--desc", is_flag=True, help="Sort descending.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def catalog_cmd(ctx: click.Context, task: str | None, license_: str | None, commercial: bool,
                open_: str | None, max_params: str | None, min_context: str | None, family: str | None,
                fits: str | None, sort: str, desc: bool, as_json: bool) -> None:
    """Open models: licences, openness, lineage, tasks and fit to this machine (offline, sourced)."""
    if ctx.invoked_subcommand:
        return

    rows = query(catalog_load.catalog(), Filters(task, license_, commercial, open_, max_params, min_context, family,
                                     fits), sort=sort, descending=desc)
    if as_json:
        print_json(rows)
        return
    console.print(_list_table(rows))
    for note in freshness_notes(catalog_load.catalog()):
        console.print(note, markup=False, soft_wrap=True)


def freshness_notes(cat: Any) -> list[str]:
    """Lines saying which checked facts are older than six months: catalog entries, hosted prices."""
    notes = []
    stale = [e for e in cat.entries.values() if is_stale(e.checked)]
    if stale:
        notes.append(f"{len(stale)} of {len(cat.entries)} entries were last checked over {STALE_LABEL} ago: "
                     "`bakeoff catalog check` lists them and verifies their sources")
    prices = stale_note("hosted API prices (used for cost comparisons)", [p["checked"] for p in reference_prices()])
    if prices:
        notes.append(prices)
    return notes


@catalog_cmd.command("tree")
@click.argument("family")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def tree_cmd(family: str, as_json: bool) -> None:
    """A family's models with their fine-tuned descendants (in any family)."""
    cat = catalog_load.catalog()
    fam = check_choice(family, sorted(cat.families), "family")
    roots = [e for e in cat.entries.values()
             if e.family == fam and (e.base is None or cat.entries[e.base].family != fam)]

    def node(e: Any) -> dict[str, Any]:
        return {"id": e.id, "relation": e.relation, "license": e.license, "tasks": list(e.tasks),
                "children": [node(c) for c in cat.children(e.id)]}

    data = [node(r) for r in roots]
    if as_json:
        print_json({"family": fam, "name": cat.families[fam].name, "roots": data})
        return
    tree = Tree(f"{cat.families[fam].name} ({cat.families[fam].org})")

    def add(parent: Tree, n: dict[str, Any]) -> None:
        rel = f" [{n['relation']}]" if n["relation"] else ""
        branch = parent.add(f"{n['id']}{rel} — {n['license']}; {', '.join(n['tasks'])}")
        for c in n["children"]:
            add(branch, c)

    for n in data:
        add(tree, n)
    console.print(tree)


catalog_cmd.add_command(show_cmd)
catalog_cmd.add_command(check_cmd)
