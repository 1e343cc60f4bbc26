"""`bakeoff search`: GGUF repos on the Hugging Face Hub, their quantizations, the catalog's facts
and whether each fits this machine; `bakeoff pull N` takes a result."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

import click
from rich.table import Table

from ..atomic import write_text_atomic
from ..catalog.queries import repo_facts, repo_shape
from ..estimates import human_bytes
from ..models.hub import search
from ..models.pull import last_search_path
from ..settings import get_settings
from .common import console, human_count, print_json, spinner


def _facts(repo: str) -> dict[str, Any]:
    facts = repo_facts(repo)
    if facts is None:
        return {"catalog_id": None}
    return {"catalog_id": facts.catalog_id, "catalog_license": facts.license,
            "openness": facts.openness, "commercial": facts.commercial}


def _speeds(results: list[Any]) -> dict[tuple[str, str], Any]:
    """(repo, quant) -> (predicted tokens/s here, what it rests on), for every offer it can predict."""
    from ..catalog.queries import offer_speed
    from .recommend import machine_profile

    profile = machine_profile()
    return {(m.repo, o.quant): sp for m in results for o in m.offers
            if (sp := offer_speed(m.repo, o.quant, o.size, profile)) is not None}


def _offer_text(offer: Any, recommended: str | None, speed: Any) -> str:
    from ..models.perf import fmt_tps

    mark = " *" if offer.quant == recommended else ""
    verdict = offer.fit.verdict if offer.fit else "size unknown"
    on_gpu = f", GPU: {offer.gpu_verdict}" if offer.gpu_verdict else ""
    tps = f", ~{fmt_tps(speed[0].output_tps)} tok/s" if speed else ""
    return f"{offer.quant} {human_bytes(offer.size)} {verdict}{on_gpu}{tps}{mark}"


def _with_speeds(row: dict[str, Any], speeds: dict[tuple[str, str], Any]) -> dict[str, Any]:
    for o in row["offers"]:
        sp = speeds.get((row["repo"], o["quant"]))
        o["expected_speed"] = {**sp[0].to_dict(), "basis": sp[1]} if sp else None
    return row


def _save_results(results: list[Any]) -> None:
    settings = get_settings()
    settings.ensure_home()
    path = last_search_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, json.dumps([{"repo": m.repo, "recommended": m.recommended} for m in results]))


@click.command("search")
@click.argument("query", required=False, default="")
@click.option("--task", default=None, help="The Hub's task tag, e.g. text-generation.")
@click.option("--license", "licence", default=None, help="Licence tag, e.g. apache-2.0 or mit.")
@click.option("--fits", is_flag=True, help="Only repos with a quantization that fits this machine.")
@click.option("--limit", type=click.IntRange(1, 100), default=10, show_default=True,
              help="Most repos to list (most downloaded first).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def search_cmd(query: str, task: str | None, licence: str | None, fits: bool, limit: int,
               as_json: bool) -> None:
    """Search the Hugging Face Hub for GGUF models: each repo's quantizations with sizes and
    whether they fit here (* = what `bakeoff pull` would choose) with the output tokens/s expected
    here, and the catalog's licence and openness facts where it knows the model. `bakeoff pull N` downloads result N."""
    with spinner("searching the Hugging Face Hub"):
        results = search(query, task=task, license=licence, fits=fits, limit=limit, shapes=repo_shape)
    _save_results(results)
    speeds = _speeds(results) if results else {}
    rows = [_with_speeds({**asdict(m), **_facts(m.repo)}, speeds) for m in results]
    if as_json:
        print_json(rows)
        return
    if not results:
        console.print("no GGUF repos match" + (" that fit this machine" if fits else ""))
        return
    table = Table(title=f"{len(results)} GGUF repos on the Hub for {query!r} (most downloaded first)")
    for col in ("#", "repo", "downloads", "licence", "catalog", "quantizations (size, fit, tok/s here)"):
        table.add_column(col)
    for i, (m, row) in enumerate(zip(results, rows), 1):
        catalog = f"{row['catalog_id']} ({row['openness']}, commercial: {row['commercial']})" \
            if row["catalog_id"] else "-"
        table.add_row(str(i), m.repo, human_count(m.downloads), m.license or row.get("catalog_license") or "?",
                      catalog, "\n".join(_offer_text(o, m.recommended, speeds.get((m.repo, o.quant)))
                                          for o in m.offers) or "no GGUF files")
    console.print(table)
    console.print("expected output tok/s: predicted for this machine before download (100-token prompt, 300 "
                  "output tokens; the catalog's shape where it knows the model, else the file size, dense "
                  "assumed) — `bakeoff recommend` says how far off the speed model has been here", markup=False)
    console.print("pull one: bakeoff pull N (its * quantization) or bakeoff pull N:QUANT", markup=False)
