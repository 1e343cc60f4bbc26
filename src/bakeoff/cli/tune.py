"""`bakeoff tune BASE --data FILE --name NAME`: train a LoRA adapter on this CPU, bake off base
against tuned on the held-out cases, register BASE+NAME."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from .common import console, err_console

_FLAG_TYPES = {int: int, float: float}


def config_options(fn: Callable) -> Callable:
    """One flag per TuneConfig field, with the field's description and default."""
    from ..tune.config import TuneConfig

    for name, field in reversed(list(TuneConfig.model_fields.items())):
        flag = "--" + name.replace("_", "-")
        if name == "targets":
            fn = click.option(flag, default=",".join(field.default_factory()), show_default=True,  # type: ignore[misc]
                              help=field.description + " Comma-separated.")(fn)
            continue
        ann = field.annotation
        typ = next((t for t in _FLAG_TYPES if ann is t or t in getattr(ann, "__args__", ())), float)
        fn = click.option(flag, type=typ, default=field.default, show_default=True,
                          help=field.description)(fn)
    return fn


class TrainBar:
    """Step, loss, learning rate and ETA on stderr (plain lines when stderr is not a terminal)."""

    def __init__(self) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.tty = sys.stderr.isatty()
        self.bar = Progress(TextColumn("training"), BarColumn(), MofNCompleteColumn(),
                            TextColumn("loss {task.fields[loss]}"), TextColumn("lr {task.fields[lr]}"),
                            TextColumn("ETA"), TimeRemainingColumn(), console=err_console,
                            disable=not self.tty)
        self.task: Any = None
        self.total = 0
        self.last_line = 0.0

    def __enter__(self) -> TrainBar:
        self.bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.__exit__(*exc)

    def begin(self, total_steps: int, done_steps: int) -> None:
        self.total = total_steps
        self.task = self.bar.add_task("train", total=total_steps, completed=done_steps, loss="–", lr="–")

    def step(self, step: int, loss: float, lr: float) -> None:
        self.bar.update(self.task, completed=step, loss=f"{loss:.4f}", lr=f"{lr:.2e}")
        now = time.monotonic()
        if not self.tty and (now - self.last_line > 10 or step == self.total):
            self.last_line = now
            err_console.print(f"step {step}/{self.total} loss {loss:.4f} lr {lr:.2e}", markup=False)

    def note(self, text: str) -> None:
        err_console.print(text, markup=False, soft_wrap=True)


def print_outcome(outcome: Any) -> None:
    from ..tune.registry import summary

    lin = outcome.lineage
    console.print(f"registered {lin.name}", markup=False)
    for key, value in summary(lin).items():
        console.print(f"  {key}: {value}", markup=False, soft_wrap=True)
    h = lin.held_out
    if h:
        se = lambda k: (k / h.n * (1 - k / h.n) / h.n) ** 0.5 * 100  # noqa: E731
        console.print(f"  held-out pass rate: base {100 * h.base_passed / h.n:.0f}% ± {se(h.base_passed):.0f}% "
                      f"→ tuned {100 * h.tuned_passed / h.n:.0f}% ± {se(h.tuned_passed):.0f}% (n={h.n}, greedy)",
                      markup=False)
    if outcome.report:
        console.print(f"report: {outcome.report}", markup=False, soft_wrap=True)
    if outcome.merged:
        print_merged(outcome.merged, True)


def print_merged(m: Any, created: bool) -> None:
    verb = "merged" if created else "already merged"
    console.print(f"{verb}: {m.name} ({m.tensor_type}, {m.size_bytes / 2 ** 20:.0f} MiB, a standalone "
                  f"GGUF that needs no adapter)", markup=False, soft_wrap=True)
    if m.tensor_type not in ("F32", "F16", "BF16", "Q8_0"):
        err_console.print(f"note: requantizing to {m.tensor_type} rounds away much of a small adapter's update "
                          "(measured: as far from base+adapter as the base itself); `--type F16` keeps it",
                          markup=False, soft_wrap=True)


MERGE_TYPE = click.Choice(["same", "F16"], case_sensitive=False)
MERGE_TYPE_HELP = ("Tensor types of the merged file: the base's own (requantized: small, but 4-bit rounding "
                   "blurs a small adapter), or F16 (faithful, 2 bytes a weight).")


@click.command("tune")
@click.argument("base")
@click.option("--data", "data", required=True, type=click.Path(path_type=Path),
              help="Training data: OpenAI messages JSONL, prompt/completion JSONL, CSV, or a suite YAML.")
@click.option("--eval", "eval_file", type=click.Path(path_type=Path), default=None,
              help="Held-out data (default: a seeded split of --data, --eval-fraction of it).")
@click.option("--name", required=True, help="The tuned model is registered as BASE+NAME.")
@click.option("--threads", type=click.IntRange(1, 512), default=None,
              help="CPU threads for training and the bakeoff (default: the physical cores).")
@click.option("--restart", is_flag=True, help="Discard a checkpoint or an existing BASE+NAME and start over.")
@click.option("--no-compare", is_flag=True, help="Skip the held-out bakeoff of base against tuned.")
@click.option("--merge", is_flag=True, help="Also write BASE+NAME-merged: a standalone GGUF with the "
              "adapter folded into the base weights.")
@click.option("--merge-type", type=MERGE_TYPE, default="same", show_default=True,
              help=MERGE_TYPE_HELP)
@config_options
def tune_cmd(base: str, data: Path, eval_file: Path | None, name: str, threads: int | None,
             restart: bool, no_compare: bool, merge: bool, merge_type: str, **hp: Any) -> None:
    """Fine-tune a LoRA adapter for BASE on your data, on this CPU; the same command resumes."""
    from ..errors import InvalidParamsError
    from ..settings import get_settings
    from ..tune.config import TuneConfig
    from ..tune.pipeline import TuneRequest, tune

    hp["targets"] = [t.strip() for t in hp["targets"].split(",") if t.strip()]
    try:
        cfg = TuneConfig(**hp)
    except ValueError as exc:
        raise InvalidParamsError(f"invalid hyperparameter: {exc}") from None
    settings = get_settings()
    req = TuneRequest(base, name, data, eval_file, cfg, threads or settings.threads, restart, not no_compare,
                      merge_mode(merge_type) if merge else None)
    from .run import BarProgress

    with TrainBar() as bar:
        outcome = tune(req, settings, bar, BarProgress(enabled=True))
    print_outcome(outcome)


def merge_mode(choice: str) -> str:
    return "same" if choice.lower() == "same" else "F16"


@click.command("merge")
@click.argument("model")
@click.option("--type", "merge_type", type=MERGE_TYPE, default="same", show_default=True,
              help=MERGE_TYPE_HELP)
def merge_cmd(model: str, merge_type: str) -> None:
    """Fold a tuned model's adapter (BASE+NAME) into its base weights: a standalone GGUF registered
    as BASE+NAME-merged, next to the adapter; the base file is never changed."""
    from ..errors import InvalidParamsError
    from ..models.registry import Registry
    from ..settings import get_settings
    from ..tune.merge import merge_tuned
    from ..tune.registry import lineage_of

    settings = get_settings()
    ref = Registry(settings).resolve(model)
    lineage = lineage_of(ref, settings) if ref.adapters else None
    if lineage is None:
        raise InvalidParamsError(f"{ref.name} is not a tuned model with an adapter",
                                 hint="merge a model made by `bakeoff tune` (listed as BASE+NAME)")
    folder = Path(ref.adapters[0].path).parent
    record, created = merge_tuned(lineage, folder, merge_mode(merge_type), settings)
    print_merged(record, created)
