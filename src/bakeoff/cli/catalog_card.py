"""`bakeoff catalog show` (a model's sourced card, its MOF class component by component) and
`bakeoff catalog check` (entries by age, source URLs verified when online)."""

from __future__ import annotations

from typing import Any

import click
from rich.table import Table

from ..catalog import load as catalog_load  # catalog_load.catalog(): looked up per call, swappable in tests
from ..catalog.check import check_urls, cited_urls, entries_by_age, online
from ..catalog.mof import NAMES
from ..catalog.openness import scorecard
from ..catalog.queries import memory
from ..estimates import human_bytes
from ..freshness import STALE_LABEL, age_days, describe_age
from ..models.fit import recommend_quant
from .common import console, print_json

MARKS = {"open": "✓", "partial": "~", "closed": "✗", "unknown": "?"}
PROBE_URL = "https://huggingface.co"
HUB_URL = "https://huggingface.co"     # where hf_repo and gguf_repos live


def _say(text: str) -> None:
    console.print(text, markup=False, soft_wrap=True)


def _facts_table(cat: Any, e: Any) -> Table:
    lic = cat.licence(e)
    t = Table(show_header=False, title=f"{e.name} ({e.id})")
    params = f"{e.params_b:g}B" + (f", {e.active_params_b:g}B active" if e.active_params_b else "")
    a = e.arch
    arch = f"{a.gguf}, {a.type}, {a.attention}" + (
        f", {a.experts} experts / {a.experts_used} used" if a.experts else "")
    unknown = "unknown (no source checked)"
    for k, v in [("organisation", cat.org(e)), ("family", e.family), ("released", e.released or unknown),
                 ("tasks", ", ".join(e.tasks)), ("languages", ", ".join(e.languages or []) or unknown),
                 ("parameters", params), ("architecture", arch),
                 ("layers / hidden / heads / KV heads",
                  " / ".join(str(x or "?") for x in (a.layers, a.hidden, a.heads, a.kv_heads))),
                 ("context", str(e.context or unknown)),
                 ("licence", f"{lic.name} — commercial: {lic.commercial}"),
                 ("Hugging Face", e.hf_repo), ("GGUF repos", ", ".join(e.gguf_repos) or "none known"),
                 ("facts checked", f"{e.checked.isoformat()} ({describe_age(age_days(e.checked))} ago)")]:
        t.add_row(k, v)
    return t


def _print_sources(cat: Any, e: Any) -> None:
    notes = e.sources.notes
    for k, url in e.sources.urls().items():
        _say(f"source ({k}): {url}" + (f" — {notes[k]}" if k in notes else ""))
    for k, note in notes.items():
        if k not in e.sources.urls():
            _say(f"source note ({k}): {note}")
    _say(f"source (licence): {cat.licence(e).source or 'none verified (see the licence note)'}")


def _print_criteria(sc: Any) -> None:
    _say(f"openness: {len(sc.met)}/5 criteria, index {sc.index:g}/5 — {sc.tier}; record from {sc.record_from}")
    for c in sc.criteria:
        note = f" ({c['note']})" if c.get("note") else ""
        _say(f"  {MARKS[c['status']]} {c['criterion']}: {c['status']}"
             + (f" — {c['evidence']}" if c.get("evidence") else "") + note)


def print_mof(mof: dict[str, Any], mot: dict[str, Any] | None) -> None:
    """The MOF v1.0 class, then every component by the class that requires it, each with its own
    licence, verdict and evidence; then what holds the model back from the next class."""
    _say(f"Model Openness Framework v1.0: {NAMES.get(mof['mof_class'], 'no class')}")
    blockers = set(mof["blockers"])
    for cls in (3, 2, 1):
        _say(f"  {NAMES[cls]}:")
        for c in (c for c in mof["components"] if c["mof_class"] == cls):
            mark = "✓" if c["counted"] else ("≈" if c["why"].startswith("research paper stands in")
                                             else "?" if c["status"] == "unknown" else "✗")
            lic = f" [{c['license']}]" if c["license"] else ""
            opt = "" if c["required"] else " (optional)"
            held = " ← holds it back" if c["key"] in blockers else ""
            _say(f"    {mark} {c['name']}{opt}{lic}: {c['why']}"
                 + (f" — {c['evidence']}" if c["evidence"] else "") + held)
    if mof["next_class"]:
        names = ", ".join(c["name"] for c in mof["components"] if c["key"] in blockers)
        _say(f"held back from {NAMES[mof['next_class']]} by: {names}")
    if mot:
        got = NAMES.get(mot["mof_class"], "no class")
        verdict = (f"we differ: {mot['differs']}" if mot.get("differs") else
                   "agrees" if mot["mof_class"] == mof["mof_class"] else "DISAGREES (no reason recorded)")
        _say(f"Model Openness Tool: {got} (checked {mot['checked']}; {mot['source']}) — {verdict}")
    else:
        _say("Model Openness Tool: no evaluation of this model")


def _show_data(cat: Any, entry: Any, n_ctx: int | None) -> dict[str, Any]:
    ests = memory(entry, n_ctx)
    speeds, quals, profile = _expectations(entry, n_ctx)
    return {"entry": entry.model_dump(mode="json"), "org": cat.org(entry),
            "expected_speed": {q: p.to_dict() for q, p in speeds.items()},
            "expected_quality": [x.to_dict() for x in quals], "machine": profile.to_dict(),
            "openness": scorecard(cat, entry).to_dict(),
            "licence": cat.licence(entry).model_dump(),
            "ancestors": [a.id for a in cat.ancestors(entry)],
            "descendants": [c.id for c in cat.children(entry.id)],
            "memory": {q: e.to_dict() for q, e in ests.items()}, "recommended_quant": recommend_quant(ests)}


def _memory_table(ests: dict[str, Any], best: str | None, speeds: dict[str, Any]) -> Table:
    from ..models.perf import fmt_tps

    n_ctx = next(iter(ests.values())).n_ctx
    t = Table(title=f"memory at context {n_ctx} and expected speed here (estimates)")
    for col in ("quant", "weights", "KV cache", "total", "verdict", "output tok/s", "prompt tok/s"):
        t.add_column(col)
    for q, e in ests.items():
        t.add_row(q + (" ← recommended" if q == best else ""), human_bytes(e.weights_bytes),
                  human_bytes(e.kv_cache_bytes), human_bytes(e.total_bytes), e.verdict,
                  fmt_tps(speeds[q].output_tps), fmt_tps(speeds[q].prompt_tps))
    return t


def _expectations(e: Any, n_ctx: int | None) -> tuple[dict[str, Any], list[Any], Any]:
    """Expected speed per quantization (for a prompt filling --ctx but for 300 output tokens, or
    100 prompt tokens by default) and expected quality per task family, for `catalog show`."""
    from ..catalog.queries import expected_speed
    from ..catalog.scores import quality
    from ..models.fit import QUANTS
    from .recommend import machine_profile

    profile = machine_profile()
    prompt = max(n_ctx - 300, 1) if n_ctx else 100
    speeds = {q: expected_speed(e, q, profile, prompt, 300) for q in QUANTS}
    return speeds, [quality(e.id, t) for t in e.tasks], profile


@click.command("show")
@click.argument("entry_id", metavar="ID")
@click.option("--ctx", "n_ctx", type=click.IntRange(301, None), default=None,
              help="Context for the memory and speed estimates (a prompt filling it but for 300 output tokens).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def show_cmd(entry_id: str, n_ctx: int | None, as_json: bool) -> None:
    """A model's card: facts with sources, openness (MOF class component by component), lineage,
    sourced quality per task, memory and expected speed here per quantization."""
    cat = catalog_load.catalog()
    e = cat.get(entry_id)
    if as_json:
        print_json(_show_data(cat, e, n_ctx))
        return
    console.print(_facts_table(cat, e))
    _print_sources(cat, e)
    sc = scorecard(cat, e)
    _print_criteria(sc)
    print_mof(sc.mof, sc.mot)
    for r in sc.restrictions:
        _say(f"restriction: {r}")
    anc, kids = cat.ancestors(e), cat.children(e.id)
    _say("lineage: " + " ← ".join([e.id, *(f"{x.id}" for x in anc)])
         + (f"; descendants: {', '.join(k.id for k in kids)}" if kids else ""))
    for b in e.benchmarks:
        _say(f"published: {b.name} {b.score:g}" + (f" ({b.shots}-shot)" if b.shots is not None else "")
             + f" — {b.source}")
    speeds, quals, profile = _expectations(e, n_ctx)
    for x in quals:
        _say(x.reason())
    ests = memory(e, n_ctx)
    best = recommend_quant(ests)
    console.print(_memory_table(ests, best, speeds))
    console.print(f"recommended quantization for this machine: {best or 'none fits'}")
    p = next(iter(speeds.values()))
    _say(f"speeds predicted for {p.prompt_tokens} prompt then {p.output_tokens} output tokens; " + profile.summary())
    if warning := profile.busy_warning():
        _say(f"note: {warning}")


@click.command("check")
@click.option("--offline", is_flag=True, help="Only list entries by age; do not contact any source.")
@click.option("--timeout", type=click.FloatRange(0.5, 120), default=10.0, show_default=True,
              help="Seconds to wait for each source URL.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def check_cmd(offline: bool, timeout: float, as_json: bool) -> None:
    """List catalog entries by the age of their check (oldest first, stale after 6 months) and,
    when online, verify every cited source URL with a HEAD request, reporting the dead ones."""
    from dataclasses import asdict


    cat = catalog_load.catalog()
    ages = entries_by_age(cat)
    urls = cited_urls(cat, HUB_URL)
    is_online = not offline and online(PROBE_URL, min(timeout, 5.0))
    results = check_urls(urls, timeout) if is_online else None
    if as_json:
        print_json({"entries": [{**asdict(a), "checked": a.checked.isoformat()} for a in ages],
                    "online": is_online, "urls": [asdict(r) for r in results] if results is not None else None})
        return
    _print_ages(ages)
    if results is None:
        why = "--offline" if offline else f"{PROBE_URL} did not answer"
        _say(f"offline: {len(urls)} source URLs not verified ({why})")
        return
    dead = [r for r in results if not r.ok]
    _say(f"source URLs: {len(results) - len(dead)} of {len(results)} answer; {len(dead)} dead")
    for r in dead:
        why = f"HTTP {r.status}" if r.status else (r.error or "no answer")
        _say(f"  dead: {r.url} ({why}) — cited by {', '.join(r.cited_by)}")


def _print_ages(ages: list[Any]) -> None:
    t = Table(title=f"{len(ages)} catalog entries by age of their check (oldest first)")
    for col in ("id", "checked", "age", "stale"):
        t.add_column(col)
    for a in ages:
        t.add_row(a.id, a.checked.isoformat(), describe_age(a.age_days), f"over {STALE_LABEL}" if a.stale else "")
    console.print(t)
