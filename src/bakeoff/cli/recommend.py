"""`bakeoff recommend`: the quality / speed / memory front for a task, with reasons, sources and the
command that bakes off the shortlist."""

from __future__ import annotations

from typing import Any

import click
from rich.table import Table

from ..estimates import human_bytes
from .common import console, print_json

MEMORY_UNITS = {"": 1, "b": 1, "k": 1 << 10, "kb": 1 << 10, "kib": 1 << 10, "m": 1 << 20, "mb": 1 << 20,
                "mib": 1 << 20, "g": 1 << 30, "gb": 1 << 30, "gib": 1 << 30}


def machine_profile(recalibrate: bool = False) -> Any:
    """This machine's speed profile (calibrated once, a few seconds, then cached)."""
    from ..engines.calibrate import machine_profile as get

    return get(recalibrate=recalibrate)   # a calibration is announced on stderr (notices.py)


def _table(rec: Any) -> Table:
    from ..models.perf import fmt_tps

    t = Table(title=f"{rec.task}: quality against speed and memory on this machine")
    for col in ("#", "model", "released", "quant", f"quality ({rec.task})", "output tok/s", "prompt tok/s",
                "memory", "status"):
        t.add_column(col, no_wrap=col in ("model", "#", "quant"))
    rows = [(c, "front") for c in rec.front] + [(c, f"beaten by {c.dominated_by}") for c in rec.dominated]
    rows += [(c, "quality unknown") for c in rec.unknown]
    for i, (c, status) in enumerate(rows, 1):
        m = c.measured_speed
        speed = f"{fmt_tps(m.output_tps)} (measured)" if m else f"{fmt_tps(c.predicted.output_tps)} (pred.)"
        prompt = f"{fmt_tps(m.prompt_tps)} (measured)" if m else f"{fmt_tps(c.predicted.prompt_tps)} (pred.)"
        quant = f"{c.quantization} ({'measured here' if c.quant_measured else 'rule'})"
        t.add_row(str(i), c.id, c.released or "?", quant, c.quality.label(), speed, prompt,
                  human_bytes(c.memory_bytes), status)
    return t


def _print(rec: Any, profile: Any, check_line: str, verbose: bool) -> None:
    console.print(_table(rec))
    console.print("kept after each constraint: " + " → ".join(f"{k}: {n}" for k, n in rec.funnel), markup=False)
    for c in rec.front if not verbose else rec.ordered():
        console.print(f"{c.id} ({c.name}) at {c.quantization}" + (f" — {c.trade}" if c.trade else ""),
                      markup=False, soft_wrap=True)
        for reason in c.reasons:
            console.print(f"   - {reason}", markup=False, soft_wrap=True)
    if rec.unknown:
        console.print("quality unknown (no leaderboard scored them; try them on your own cases): "
                      + ", ".join(c.id + (" (maker-reported scores: --all)" if c.maker_reported and not verbose else "")
                                  for c in rec.unknown), markup=False, soft_wrap=True)
    console.print(profile.summary(), markup=False, soft_wrap=True)
    if warning := profile.busy_warning():
        console.print(f"note: {warning}", markup=False, soft_wrap=True)
    console.print(check_line, markup=False, soft_wrap=True)
    for note in rec.notes:
        console.print(f"note: {note}", markup=False, soft_wrap=True)
    console.print(f"bake off the shortlist on your cases:\n  {rec.command}", markup=False, soft_wrap=True)


@click.command("recommend")
@click.option("--task", required=True, help="What the model is for (chat, code, math, medical, ...).")
@click.option("--min-speed", metavar="TOK/S",
              help="Only models expected at this many output tokens/s here, e.g. 10tok/s.")
@click.option("--max-memory", metavar="SIZE", help="Memory to plan for, e.g. 8GiB (default: available now).")
@click.option("--license", "license_", metavar="ID", help="Only this licence (e.g. apache-2.0).")
@click.option("--commercial", is_flag=True, help="Only licences that allow commercial use.")
@click.option("--open", "open_", metavar="LEVEL",
              help="At least N of the 5 openness criteria (0-5), or mof-iii / mof-ii / mof-i.")
@click.option("--prompt-tokens", type=click.IntRange(1, 10_000_000), default=100, show_default=True,
              help="Plan for prompts this long (then 300 output tokens): speed and memory are estimated there.")
@click.option("--suite", metavar="FILE", help="Your suite, for the bakeoff command printed at the end.")
@click.option("--top", type=click.IntRange(1, 20), default=4, show_default=True,
              help="Models in the shortlist command.")
@click.option("--all", "verbose", is_flag=True, help="Reasons for every model, not only the front.")
@click.option("--recalibrate", is_flag=True, help="Measure this machine's speed again (a few seconds).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def recommend_cmd(task: str, min_speed: str | None, max_memory: str | None, license_: str | None,
                  commercial: bool, open_: str | None, prompt_tokens: int, suite: str | None, top: int, verbose: bool,
                  recalibrate: bool, as_json: bool) -> None:
    """Models worth trying for a task: expected quality (sourced leaderboard scores) against expected
    speed and memory on this machine, the trade each one makes, and a command to bake them off."""
    from ..catalog.evidence import check_speed, error_summary, gather, speed_uncertainty
    from ..catalog.load import catalog
    from ..catalog.match import entry_for_model
    from ..catalog.queries import parse_size
    from ..catalog.recommend import Constraints, parse_speed, recommend
    from ..store.db import connect
    from ..store.evals import speed_measurements

    cat = catalog()
    cons = Constraints(license_, commercial, open_,
                       int(parse_size(max_memory, "max-memory", MEMORY_UNITS)) if max_memory else None,
                       parse_speed(min_speed) if min_speed else None, prompt_tokens)
    profile = machine_profile(recalibrate)
    db = connect()
    try:
        evidence = gather(cat, db, lambda name: entry_for_model(cat, name))
        checks = check_speed(profile, speed_measurements(db))
    finally:
        db.close()
    rec = recommend(cat, task, profile, cons, evidence, top=top, suite=suite, speed_error=speed_uncertainty(checks))
    if as_json:
        print_json({**rec.to_dict(), "machine": profile.to_dict(),
                    "speed_checks": [c.to_dict() for c in checks]})
        return
    _print(rec, profile, error_summary(checks), verbose)
