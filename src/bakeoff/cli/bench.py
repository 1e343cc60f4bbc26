"""`bakeoff bench TASK[,TASK...] --models ...`: standard benchmarks, scored like
lm-evaluation-harness, stored per item (an interrupted run resumes), printed as a table."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import click

from ..engines.factory import check_load
from ..errors import InvalidParamsError
from ..estimates import show_stat
from ..evals.bench import get_task, run_benchmark, task_names
from ..evals.bench.runner import BENCH_LOAD, LazyEngine
from ..evals.columns import BENCHMARK
from ..settings import get_settings
from .common import DRAFT, NO_SPECULATIVE, console, err_console, gpu_layers_option, print_json, printable


def _split(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def _cell(score: Any) -> str:
    """The score as `bakeoff run` and the UI show it, without n (the table has its own column)."""
    return show_stat(score.to_dict(), replace(BENCHMARK, with_n=False))


def _table(results: list[Any], names: list[str]) -> None:
    """One row per model, task and metric, so any mix of tasks fits a terminal."""
    from rich import box
    from rich.table import Table

    table = Table(title="Benchmarks (% ± standard error; k = shots, new = items computed now)",
                  title_justify="left", box=box.SIMPLE_HEAD)
    for col in ("model", "task", "metric", "score", "n", "k", "new", "sec"):
        table.add_column(col, justify="left" if col in ("model", "task", "metric") else "right")
    for r, name in zip(results, names):
        for i, (metric, score) in enumerate(r.scores.items()):
            first = i == 0
            table.add_row(name if first else "", r.task if first else "", metric, _cell(score),
                          str(r.n), str(r.settings["shots"]) if first else "",
                          str(r.computed) if first else "", f"{r.seconds:.1f}" if first else "")
    console.print(table)


def _progress_bar(label: str):
    import sys

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    label = printable(label).replace("{", "{{").replace("}", "}}")   # a model name is data, not a format
    return Progress(TextColumn(label, markup=False), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                    console=err_console, transient=True, disable=not sys.stderr.isatty())


def run_all(tasks: list[str], models: list[str], limit: int | None, shots: int | None,
            speculative: bool | None = None, draft: str | None = None) -> list[Any]:
    """Generation tasks (gsm8k, humaneval) decode with speculative decoding as the options say;
    scores do not depend on it (greedy answers are the same)."""
    options = BENCH_LOAD.model_copy(update={"speculative": speculative, "draft": draft})
    for t in tasks:  # fail on a bad task name before loading any model
        get_task(t).docs()
    if draft:   # ... and on a draft that cannot serve one of the models
        for model in models:
            check_load(model, options)
    results = []
    for model in models:
        lazy = LazyEngine(model, get_settings(), None, options)
        try:
            for task in tasks:
                with _progress_bar(f"{model} · {task}") as bar:
                    job = bar.add_task(task, total=None)
                    results.append(run_benchmark(
                        task, model, limit=limit, shots=shots, lazy=lazy,
                        progress=lambda done, total, bar=bar, job=job: bar.update(job, completed=done, total=total)))
        finally:
            lazy.close()
    return results


@click.command("bench")
@gpu_layers_option
@click.argument("tasks", required=False)
@click.option("--models", "-m", default=None, help="Comma-separated model names (see `bakeoff models`).")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Score only the first N items.")
@click.option("--shots", type=click.IntRange(min=0), default=None, help="Few-shot examples per item.")
@click.option("--list", "list_tasks", is_flag=True, help="List the benchmark tasks and exit.")
@click.option("--json", "as_json", is_flag=True, help="Print scores with n and standard errors as JSON.")
@NO_SPECULATIVE
@DRAFT
def bench_cmd(tasks: str | None, models: str | None, limit: int | None, shots: int | None,
              list_tasks: bool, as_json: bool, speculative: bool | None, draft: str | None) -> None:
    """Score models on standard benchmarks (TASKS: comma-separated, e.g. hellaswag,piqa,arc_easy).

    Results are stored per item; running the same command again reuses them, and an interrupted
    run picks up where it stopped.
    """
    if list_tasks:
        return _list_tasks(as_json)
    if not tasks or not models:
        raise InvalidParamsError("give benchmark tasks and --models",
                                 hint="e.g. bakeoff bench hellaswag,piqa --models smollm2-135m --limit 100; "
                                      "`bakeoff bench --list` shows the tasks")
    task_list, model_list = _split(tasks), _split(models)
    results = run_all(task_list, model_list, limit, shots, speculative, draft)
    if as_json:
        print_json([r.to_dict() for r in results])
    else:  # rows come model by model, task by task; show each model as the user named it
        _table(results, [m for m in model_list for _ in task_list])


def _list_tasks(as_json: bool) -> None:
    specs = [get_task(n) for n in task_names()]
    if as_json:
        print_json([{"name": s.name, "title": s.title, "kind": s.kind, "metrics": s.metrics,
                     "default_shots": s.default_shots} for s in specs])
        return
    for s in specs:
        console.print(f"{s.name:<14} {s.title:<14} {s.kind:<16} {', '.join(s.metrics)}")
