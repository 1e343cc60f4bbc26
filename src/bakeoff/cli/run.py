"""`bakeoff run`: models x a suite, live progress per model, a leaderboard, and the report path."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from ..errors import EngineError, IncomparableRunsError, InvalidParamsError, QualityGateError
from ..evals.columns import benchmark_columns, row_text, speculated
from ..evals.compare import ranking_note
from ..evals.costs import format_break_even, prices_note
from ..evals.formats.loader import load
from ..evals.gate import GateResult, check, read_results_file
from ..evals.junit import render_junit
from ..evals.metrics import board
from ..evals.report import write_reports
from ..evals.runner import RunOptions, run_suite
from ..evals.speed import DEFAULT_REPEATS
from ..evals.stats import PairedComparison, verdict
from ..store import connect
from ..store.evals import get_run
from .common import (
    DRAFT,
    NO_SPECULATIVE,
    SafeConsole,
    console,
    err_console,
    gpu_layers_option,
    load_run,
    print_json,
    printable,
)


def table_console() -> Any:
    """Off a terminal rich would wrap wide tables at 80 columns; logs and pipes can take more."""
    return console if console.is_terminal else SafeConsole(width=200, highlight=False)


def leaderboard_table(rows: list[dict[str, Any]], run: dict[str, Any]) -> Any:
    from rich.table import Table

    s = run["settings"]
    n_rep = s.get("speed_repeats")
    table = Table(title=f"Run {run['id']} · suite {run['suite_name']} · {s.get('threads')} threads · "
                        f"${s.get('hourly_cost')}/h · " + (f"speed: median (P5–P95) of n={n_rep}"
                                                           if s.get("speed") else "speed not measured"),
                  title_justify="left")
    benchmarks = benchmark_columns(rows)
    tools = any(r.get("tool_calls") for r in rows)
    drafts = speculated(rows)
    for col in ("rank", "model", "pass rate ± SE (n)", "mean score ± SE", "$ per passing case",
                *(["valid tool calls ± SE (n)"] if tools else []),
                *(h for _, h in benchmarks), "TTFT ms", "output tok/s", "prompt tok/s",
                *(["draft acceptance ± SE (n answers)"] if drafts else []), "$/1M blended 3:1",
                "peak RSS (+model)", "status"):
        table.add_column(col, overflow="fold")
    for r in rows:
        text = row_text(r, (t for t, _ in benchmarks))
        status = r["status"] if not r["error"] else f"failed: {r['error']}"
        bench = [text["benchmarks"][t] for t, _ in benchmarks]
        table.add_row(str(r["rank"]), r["model"], text["pass_rate"], text["mean_score"], text["cost_per_pass"],
                      *([text["tool_calls"]] if tools else []), *bench, text["ttft_ms"],
                      text["output_tps"], text["prompt_tps"], *([text["acceptance"]] if drafts else []),
                      text["cost_blended"], text["peak_rss"], status)
    return table


class BarProgress:
    """One rich progress bar per model on stderr; plain lines when stderr is not a terminal."""

    def __init__(self, enabled: bool):
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.tty = enabled and sys.stderr.isatty()
        self.enabled = enabled
        self.bar = Progress(TextColumn("{task.fields[model]:<28}", markup=False), BarColumn(),
                            MofNCompleteColumn(), TextColumn("{task.fields[passed]} pass"), TimeElapsedColumn(),
                            TextColumn("{task.fields[phase]}", markup=False), console=err_console,
                            disable=not self.tty)
        self.tasks: dict[str, Any] = {}
        self.run_id: int | None = None
        self.passed: dict[str, int] = {}

    def __enter__(self) -> BarProgress:
        self.bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.__exit__(*exc)

    def _task(self, model: str, total: int = 0) -> Any:
        if model not in self.tasks:
            self.passed[model] = 0
            self.tasks[model] = self.bar.add_task(model, total=total, model=printable(model)[:28], passed=0,
                                                  phase="")
        return self.tasks[model]

    def model_start(self, model: str, total: int, done: int) -> None:
        self.bar.update(self._task(model, total), total=total, completed=done, phase="cases")

    def case_done(self, model: str, case_id: str, status: str, cached: bool) -> None:
        self.passed[model] += status == "pass"
        self.bar.update(self._task(model), advance=1, passed=self.passed[model])

    def run_started(self, run_id: int, resumed: bool) -> None:
        self.run_id = run_id
        if self.enabled:
            err_console.print(f"{'resuming' if resumed else 'starting'} run {run_id}", markup=False)

    def phase(self, model: str, text: str) -> None:
        self.bar.update(self._task(model), phase=printable(text))
        if self.enabled and not self.tty:
            err_console.print(f"{model}: {text}", markup=False)

    def model_end(self, model: str, status: str, error: str | None) -> None:
        self.bar.update(self._task(model), phase=printable(status if not error else f"failed: {error[:60]}"))
        if self.enabled and not self.tty:
            err_console.print(f"{model}: {status}" + (f" ({error})" if error else ""), markup=False)


@click.command("run")
@gpu_layers_option
@click.option("--suite", "suite_name", default="starter", show_default=True,
              help="Suite file (YAML) or built-in suite name.")
@click.option("--models", default=None,
              help="Comma-separated models (default: the suite's providers, else every packaged model).")
@click.option("--no-cache", is_flag=True, help="Generate every answer again instead of reusing cached ones.")
@click.option("--no-speed", is_flag=True, help="Skip the speed and cost workloads.")
@click.option("--repeats", type=click.IntRange(1, 100), default=None,
              help="Repeats of each speed workload (default 3).")
@click.option("--judge", default=None, help="Model that grades llm-rubric assertions.")
@click.option("--threads", type=click.IntRange(1, 512), default=None,
              help="llama.cpp threads (default: BAKEOFF_THREADS or the physical cores).")
@click.option("--concurrency", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Cases in flight per model (batched through the engine when it supports it).")
@click.option("--fail-under", type=click.FloatRange(0, 1), default=None,
              help="CI gate: exit with status 7 when a model's pass rate is below this (0-1).")
@click.option("--baseline", default=None, metavar="RUN|FILE",
              help="CI gate: exit with status 7 when a model is significantly worse (exact McNemar, "
                   "Holm-adjusted, α = 0.05) than in this earlier run or results.json.")
@click.option("--junit", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Also write JUnit XML here: one test case per case × model (and the gate's checks).")
@click.option("--json", "as_json", is_flag=True, help="Print the leaderboard and report paths as JSON.")
@NO_SPECULATIVE
@DRAFT
def run_cmd(suite_name: str, models: str | None, no_cache: bool, no_speed: bool, repeats: int | None,
            judge: str | None, threads: int | None, concurrency: int, fail_under: float | None,
            baseline: str | None, junit: str | None, as_json: bool, speculative: bool | None,
            draft: str | None) -> None:
    """Run models on a suite (default: the starter suite on the packaged models) and compare them.

    Exit status: 0 done (and the gate passed), 7 the quality gate failed (--fail-under, --baseline),
    1 every model failed, 2 bad input, 3 unknown model/run, 4 bad model file, 5 resources,
    6 remote endpoint unreachable."""
    if draft and concurrency > 1:
        raise InvalidParamsError("--draft drafts for one case at a time", param="draft",
                                 hint="leave out --concurrency, or --draft (prompt lookup needs no draft)")
    suite = load(suite_name)  # a malformed suite stops here, before any model loads
    if suite.unsupported:
        err_console.print(f"{suite.path}: {len(suite.unsupported)} item(s) Bakeoff does not support "
                          "(left out of the run):", markup=False, soft_wrap=True)
        for line in suite.unsupported:
            err_console.print(f"  {line}", markup=False, soft_wrap=True)
    base = load_baseline(baseline, suite.name) if baseline else None
    names = [m.strip() for m in models.split(",") if m.strip()] if models else None
    options = RunOptions(use_cache=not no_cache, speed=not no_speed,
                         speed_repeats=repeats or DEFAULT_REPEATS, judge=judge, threads=threads,
                         concurrency=concurrency, speculative=speculative,
                         draft=draft)
    with BarProgress(enabled=not as_json) as prog:
        try:
            run_id = run_suite(suite, names, options, progress=prog)  # type: ignore[arg-type]
        except KeyboardInterrupt:
            if prog.run_id is not None:  # finished cases are stored; say how to pick up
                err_console.print(f"run {prog.run_id} stopped: run the same command again to resume",
                                  markup=False)
            raise
    gate = None if fail_under is None and base is None else \
        lambda run, rows: check(run, rows, fail_under, base)
    run, rows, result = show_run(run_id, as_json, gate)
    if junit:
        Path(junit).write_text(render_junit(run, rows, result), encoding="utf-8")
    failed = [r for r in rows if r["status"] == "failed"]
    if failed and len(failed) == len(rows):  # nothing was compared: scripts must notice
        raise EngineError(f"every model failed; first: {failed[0]['model']}: {failed[0]['error']}",
                          "check the model with `bakeoff show MODEL`")
    if result is not None and result.failures:
        raise QualityGateError(result.failures)


def load_baseline(ref: str, suite_name: str) -> dict[str, Any]:
    """A baseline run from the store (id or latest) or a results.json; checked before running."""
    path = Path(ref)
    run = read_results_file(path) if path.suffix == ".json" or path.is_file() else load_run(ref)
    if run["suite_name"] != suite_name:
        raise IncomparableRunsError(
            f"baseline {ref} ran suite {run['suite_name']!r}, this run is suite {suite_name!r}",
            "a baseline must be a run (or results.json) of the same suite")
    return run


def speed_check_lines(run_id: int) -> list[str]:
    """The speed model's predictions beside what this run measured (catalog layer, read-only)."""
    from ..catalog.evidence import run_check_lines

    db = connect()
    try:
        return run_check_lines(db, run_id)
    finally:
        db.close()


def show_run(run_id: int, as_json: bool, gate: Callable[..., GateResult] | None = None
             ) -> tuple[dict[str, Any], list[dict[str, Any]], GateResult | None]:
    """Leaderboard, paired comparisons and report files for a stored run (shared by `run` and
    `report`); with a gate, its result too."""
    run = get_run(connect(), run_id)
    assert run is not None  # the caller found or made it
    rows, pairs = board(run)
    result = gate(run, rows) if gate else None
    checks = speed_check_lines(run_id)
    paths = write_reports(run, rows, pairs, notes=checks)
    if as_json:
        print_json({"run": run_id, "suite": run["suite_name"], "settings": run["settings"],
                    "leaderboard": rows, "comparisons": [p.to_dict() for p in pairs],
                    "ranking": ranking_note(pairs),
                    "gate": None if result is None else gate_json(result),
                    "report": {k: str(v) for k, v in paths.items()}})
        return run, rows, result
    table_console().print(leaderboard_table(rows, run))
    for line in [*board_notes(rows, pairs, result), *checks]:
        console.print(line, markup=False, soft_wrap=True)
    console.print(f"report: {paths['html']}", markup=False, soft_wrap=True)
    console.print(f"export: {paths['json']} · {paths['csv']}", markup=False, soft_wrap=True)
    return run, rows, result


def board_notes(rows: list[dict[str, Any]], pairs: list[PairedComparison], result: GateResult | None) -> list[str]:
    """The lines under the leaderboard: load, prices, what the ranking means, costs, the gate."""
    lines = []
    loads = [f"{r['model']} {r['load_avg_1m']:.1f}" for r in rows if r["load_avg_1m"] is not None]
    if loads:
        lines.append(f"machine load (1-min average) during speed runs: {', '.join(loads)}")
    lines += [f"WARNING: {r['model']}: {r['speed_warning']}" for r in rows if r.get("speed_warning")]
    for note in (prices_note(), ranking_note(pairs)):
        if note:
            lines.append(note)
    for p in pairs[:10]:
        lines.append(f"  {p.a} vs {p.b}: {p.a_only}–{p.b_only} discordant of {p.n} → {verdict(p)}")
    for r in rows:
        if r["break_even"]:
            lines.append(f"break-even for {r['model']} ({r['cost_basis']}): {format_break_even(r['break_even'])}")
    if result is not None:
        if result.note:
            lines.append(result.note)
        lines.append("quality gate: " + ("FAILED: " + "; ".join(result.failures) if result.failures
                                         else f"passed ({len(result.checks)} checks)"))
    return lines


def gate_json(result: GateResult) -> dict[str, Any]:
    return {"passed": not result.failures, "failures": result.failures,
            "checks": [{"name": c.name, "failure": c.failure} for c in result.checks],
            "comparisons": [p.to_dict() for p in result.comparisons]}
