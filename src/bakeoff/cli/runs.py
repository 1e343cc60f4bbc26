"""`bakeoff runs` (past runs), `bakeoff report RUN` (re-render), `bakeoff diff RUN_A RUN_B`."""

from __future__ import annotations

from typing import Any

import click

from ..errors import NotFoundError
from ..evals.metrics import diff_runs
from ..store import connect
from ..store.evals import get_run, latest_run_id, list_runs
from .common import console, print_json
from .run import show_run, table_console


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


@click.command("runs")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def runs_cmd(limit: int, as_json: bool) -> None:
    """List past bakeoff runs, newest first."""
    from rich.table import Table


    rows = list_runs(connect(), limit)
    if as_json:
        print_json([{k: r[k] for k in ("id", "created_at", "finished_at", "suite_name", "models",
                                       "status", "n_results", "n_pass")} for r in rows])
        return
    if not rows:
        console.print("no runs yet: try `bakeoff run`")
        return
    table = Table()
    for col in ("run", "started", "suite", "models", "results", "passed", "status"):
        table.add_column(col)
    for r in rows:
        table.add_row(str(r["id"]), r["created_at"][:19], r["suite_name"], ", ".join(r["models"]),
                      str(r["n_results"]), str(r["n_pass"]), r["status"])
    table_console().print(table)


@click.command("report")
@click.argument("run_ref", metavar="RUN", default="latest")
@click.option("--json", "as_json", is_flag=True, help="Print the leaderboard and report paths as JSON.")
def report_cmd(run_ref: str, as_json: bool) -> None:
    """Re-render the leaderboard and the HTML/JSON/CSV report of RUN (an id, or latest)."""
    show_run(load_run(run_ref)["id"], as_json)


@click.command("diff")
@click.argument("run_a", metavar="RUN_A")
@click.argument("run_b", metavar="RUN_B")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def diff_cmd(run_a: str, run_b: str, as_json: bool) -> None:
    """List the cases whose outcome changed from RUN_A to RUN_B (same model names, or one model each)."""
    from rich.table import Table


    a, b = load_run(run_a), load_run(run_b)
    changed = diff_runs(a, b)
    same_suite = a["suite_sha256"] == b["suite_sha256"]
    if as_json:
        print_json({"run_a": a["id"], "run_b": b["id"], "same_suite": same_suite, "changed": changed})
        return
    if not same_suite:
        console.print(f"note: runs {a['id']} and {b['id']} used different versions of the suite "
                      "(prompts, parameters or assertions changed)", markup=False, soft_wrap=True)
    if not changed:
        console.print(f"no case changed outcome between run {a['id']} and run {b['id']}")
        return
    table = Table(title=f"run {a['id']} → run {b['id']}: {len(changed)} case(s) changed")
    for col in ("case", "model", "before", "after", "answer after", "reason"):
        table.add_column(col, overflow="fold")
    for c in changed:
        model = c["model_a"] if c["model_a"] == c["model_b"] else f"{c['model_a']} → {c['model_b']}"
        table.add_row(c["case_id"], model, c["before"], c["after"], (c["output_after"] or "")[:80],
                      c["reason_after"] or "")
    table_console().print(table)


def register(cli: click.Group) -> None:
    cli.add_command(runs_cmd)
    cli.add_command(report_cmd)
    cli.add_command(diff_cmd)
