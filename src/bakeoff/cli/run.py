"""`bakeoff run`: models x a suite, live progress per model, a leaderboard, and the report path."""

from __future__ import annotations

import sys
from typing import Any

import click

from .common import console, err_console, print_json


def table_console() -> Any:
    """Off a terminal rich would wrap wide tables at 80 columns; logs and pipes can take more."""
    from rich.console import Console

    return console if console.is_terminal else Console(width=200, highlight=False)


def _fmt_pm(stat: dict[str, float] | None, pct: bool = False) -> str:
    if not stat or not stat.get("n"):
        return "–"
    k = 100 if pct else 1
    unit = "%" if pct else ""
    return f"{stat['value'] * k:.0f}{unit} ± {stat['se'] * k:.0f}{unit}" if pct else \
        f"{stat['value']:.2f} ± {stat['se']:.2f}"


def _fmt_range(stat: dict[str, float] | None, scale: float = 1.0, digits: int = 0) -> str:
    if not stat:
        return "–"
    f = f"{{:.{digits}f}}"
    return (f"{f.format(stat['median'] * scale)} "
            f"({f.format(stat['p5'] * scale)}–{f.format(stat['p95'] * scale)})")


def _fmt_cost(cost: dict[str, Any]) -> str:
    b = cost.get("blended")
    if not b:
        return "–"
    return f"${b['median']:.3f} ({b['low']:.3f}–{b['high']:.3f})"


def _fmt_rss(row: dict[str, Any]) -> str:
    """Peak process RSS, and how much of it came while this model was loaded."""
    from .common import human_bytes

    peak, base = row["peak_rss_bytes"], row["info"].get("baseline_rss_bytes")
    if not peak:
        return "–"
    return human_bytes(peak) + (f" (+{human_bytes(peak - base)})" if base else "")


def _bench_metric(rows: list[dict[str, Any]], task: str) -> str:
    return next((r["benchmarks"][task]["metric"] for r in rows if task in r.get("benchmarks", {})), "")


def _fmt_bench(b: dict[str, Any] | None) -> str:
    if not b or b.get("value") is None:
        return "-"
    return f"{100 * b['value']:.1f} ± {100 * (b['stderr'] or 0):.1f} (n={b['n']})"


def leaderboard_table(rows: list[dict[str, Any]], run: dict[str, Any]) -> Any:
    from rich.table import Table

    s = run["settings"]
    n_rep = s.get("speed_repeats")
    table = Table(title=f"Run {run['id']} · suite {run['suite_name']} · {s.get('threads')} threads · "
                        f"${s.get('hourly_cost')}/h · " + (f"speed: median (P5–P95) of n={n_rep}"
                                                           if s.get("speed") else "speed not measured"),
                  title_justify="left")
    tasks = sorted({t for r in rows for t in r.get("benchmarks", {})})
    for col in ("model", "pass rate ± SE (n)", "mean score ± SE",
                *(f"{t} ({_bench_metric(rows, t)})" for t in tasks), "TTFT ms", "output tok/s",
                "prompt tok/s", "$/1M blended 3:1", "peak RSS (+model)", "status"):
        table.add_column(col, overflow="fold")
    for r in rows:
        pr = r["pass_rate"]
        status = r["status"] if not r["error"] else f"failed: {r['error']}"
        bench = [_fmt_bench(r.get("benchmarks", {}).get(t)) for t in tasks]
        table.add_row(r["model"], f"{_fmt_pm(pr, pct=True)} (n={pr['n']})", _fmt_pm(r["mean_score"]),
                      *bench, _fmt_range(r["ttft_s"], 1000), _fmt_range(r["output_tps"], digits=1),
                      _fmt_range(r["prompt_tps"]), _fmt_cost(r["cost"]),
                      _fmt_rss(r), status)
    return table


class BarProgress:
    """One rich progress bar per model on stderr; plain lines when stderr is not a terminal."""

    def __init__(self, enabled: bool):
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.tty = enabled and sys.stderr.isatty()
        self.enabled = enabled
        self.bar = Progress(TextColumn("{task.fields[model]:<28}"), BarColumn(), MofNCompleteColumn(),
                            TextColumn("{task.fields[passed]} pass"), TimeElapsedColumn(),
                            TextColumn("{task.fields[phase]}"), console=err_console,
                            disable=not self.tty)
        self.tasks: dict[str, Any] = {}
        self.run_id: int | None = None
        self.passed: dict[str, int] = {}

    def __enter__(self) -> "BarProgress":
        self.bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.__exit__(*exc)

    def _task(self, model: str, total: int = 0) -> Any:
        if model not in self.tasks:
            self.passed[model] = 0
            self.tasks[model] = self.bar.add_task(model, total=total, model=model[:28], passed=0, phase="")
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
        self.bar.update(self._task(model), phase=text)
        if self.enabled and not self.tty:
            err_console.print(f"{model}: {text}", markup=False)

    def model_end(self, model: str, status: str, error: str | None) -> None:
        self.bar.update(self._task(model), phase=status if not error else f"failed: {error[:60]}")
        if self.enabled and not self.tty:
            err_console.print(f"{model}: {status}" + (f" ({error})" if error else ""), markup=False)


@click.command("run")
@click.option("--suite", "suite_name", default="starter", show_default=True,
              help="Suite file (YAML) or built-in suite name.")
@click.option("--models", default=None, help="Comma-separated models (default: every packaged model).")
@click.option("--no-cache", is_flag=True, help="Generate every answer again instead of reusing cached ones.")
@click.option("--no-speed", is_flag=True, help="Skip the speed and cost workloads.")
@click.option("--repeats", type=click.IntRange(1, 100), default=None,
              help="Repeats of each speed workload (default 3).")
@click.option("--judge", default=None, help="Model that grades llm-rubric assertions.")
@click.option("--threads", type=click.IntRange(1, 512), default=None,
              help="llama.cpp threads (default: BAKEOFF_THREADS or the physical cores).")
@click.option("--concurrency", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Cases in flight per model (batched through the engine when it supports it).")
@click.option("--json", "as_json", is_flag=True, help="Print the leaderboard and report paths as JSON.")
def run_cmd(suite_name: str, models: str | None, no_cache: bool, no_speed: bool, repeats: int | None,
            judge: str | None, threads: int | None, concurrency: int, as_json: bool) -> None:
    """Run models on a suite (default: the starter suite on the packaged models) and compare them."""
    from ..evals.runner import RunOptions, run_suite
    from ..evals.speed import DEFAULT_REPEATS
    from ..evals.suite import load_suite

    suite = load_suite(suite_name)  # a malformed suite stops here, before any model loads
    names = [m.strip() for m in models.split(",") if m.strip()] if models else None
    options = RunOptions(use_cache=not no_cache, speed=not no_speed,
                         speed_repeats=repeats or DEFAULT_REPEATS, judge=judge, threads=threads,
                         concurrency=concurrency)
    with BarProgress(enabled=not as_json) as prog:
        try:
            run_id = run_suite(suite, names, options, progress=prog)  # type: ignore[arg-type]
        except KeyboardInterrupt:
            if prog.run_id is not None:  # finished cases are stored; say how to pick up
                err_console.print(f"run {prog.run_id} stopped: run the same command again to resume",
                                  markup=False)
            raise
    rows = show_run(run_id, as_json)
    failed = [r for r in rows if r["status"] == "failed"]
    if failed and len(failed) == len(rows):  # nothing was compared: scripts must notice
        from ..errors import EngineError

        raise EngineError(f"every model failed; first: {failed[0]['model']}: {failed[0]['error']}",
                          "check the model with `bakeoff show MODEL`")


def show_run(run_id: int, as_json: bool) -> list[dict[str, Any]]:
    """Leaderboard + report files for a stored run (shared by `run` and `report`)."""
    from ..evals.metrics import leaderboard
    from ..evals.report import prices_note, write_reports
    from ..store import connect
    from ..store.evals import get_run

    run = get_run(connect(), run_id)
    rows = leaderboard(run)
    paths = write_reports(run, rows)
    if as_json:
        print_json({"run": run_id, "suite": run["suite_name"], "settings": run["settings"],
                    "leaderboard": rows, "report": {k: str(v) for k, v in paths.items()}})
        return rows
    table_console().print(leaderboard_table(rows, run))
    loads = [f"{r['model']} {r['load_avg_1m']:.1f}" for r in rows if r["load_avg_1m"] is not None]
    if loads:
        console.print(f"machine load (1-min average) during speed runs: {', '.join(loads)}",
                      markup=False, soft_wrap=True)
    note = prices_note()
    if note:
        console.print(note, markup=False, soft_wrap=True)
    console.print(f"report: {paths['html']}", markup=False, soft_wrap=True)
    console.print(f"export: {paths['json']} · {paths['csv']}", markup=False, soft_wrap=True)
    return rows


def register(cli: click.Group) -> None:
    cli.add_command(run_cmd)
