"""`bakeoff runs` (past runs), `bakeoff report RUN` (re-render), `bakeoff diff RUN_A RUN_B`."""

from __future__ import annotations

import click
from rich.table import Table

from ..evals.compare import check_same_suite, cross_run
from ..evals.metrics import diff_runs
from ..evals.stats import PairedComparison, format_interval, verdict
from ..store import connect
from ..store.evals import list_runs
from .common import console, load_run, print_json
from .run import show_run, table_console


@click.command("runs")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def runs_cmd(limit: int, as_json: bool) -> None:
    """List past bakeoff runs, newest first."""

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


def split_ref(ref: str) -> tuple[str, str | None]:
    """RUN or RUN:MODEL (a model of that run, by name or alias)."""
    run, _, model = ref.partition(":")
    return run, model or None


@click.command("diff")
@click.argument("run_a", metavar="A")
@click.argument("run_b", metavar="B")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def diff_cmd(run_a: str, run_b: str, as_json: bool) -> None:
    """Compare A with B case by case: wins, losses, ties, an exact McNemar test on pass/fail and a
    paired bootstrap interval on the score difference, then the cases whose outcome changed.

    A and B are runs (an id, or latest) or RUN:MODEL for one model of a run, e.g. `bakeoff diff 3 4`
    (the same models in two runs) or `bakeoff diff 3:smollm2 3:gemma3` (two models of one run)."""
    (ref_a, model_a), (ref_b, model_b) = split_ref(run_a), split_ref(run_b)
    a, b = load_run(ref_a), load_run(ref_b)
    note = check_same_suite(a, b)
    pairs = cross_run(a, b, model_a, model_b)
    changed = diff_runs(a, b, model_a, model_b)
    if as_json:
        print_json({"run_a": a["id"], "run_b": b["id"], "same_suite": note is None,
                    "comparisons": [p.to_dict() for p in pairs], "changed": changed})
        return
    if note:
        console.print(note, markup=False, soft_wrap=True)
    for p in pairs:
        console.print(pair_summary(p), markup=False, soft_wrap=True)
    if not changed:
        console.print(f"no case changed outcome between {run_a} and {run_b}")
        return
    table = Table(title=f"{run_a} → {run_b}: {len(changed)} case(s) changed", title_justify="left")
    for col in ("case", "model", "A", "B", "B's answer", "B's grading"):
        table.add_column(col, overflow="fold")
    for c in changed:
        model = c["model_a"] if c["model_a"] == c["model_b"] else f"{c['model_a']} → {c['model_b']}"
        table.add_row(c["case_id"], model, c["before"], c["after"], (c["output_after"] or "")[:80],
                      c["reason_after"] or "")
    table_console().print(table)


def pair_summary(p: PairedComparison) -> str:
    """A paired comparison in two lines: the counts, then the verdict."""
    return (f"A = {p.a}, B = {p.b}: {p.n} common cases · B wins {p.b_only} · A wins {p.a_only} · "
            f"ties {p.ties} ({p.both_pass} both pass, {p.both_fail} both fail) · mean score B − A "
            f"{p.score_diff:+.3f} (95% paired bootstrap interval {format_interval(p.ci_low, p.ci_high)})"
            f"\n→ {verdict(p)}")
