"""Proof that a tune helped: a bakeoff of base against tuned on the held-out cases.

The held-out examples are written as a bakeoff suite (each case is the whole conversation up to
the answer being learned: the system prompt, the earlier turns as the case's history, the last
user turn as its prompt; it passes when the answer equals the expected one), run greedy through the normal
runner (stored, cached, resumable, with its HTML report), then paired case by case: wins, losses,
ties and the exact McNemar test on the discordant pairs.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from ..evals.runner import Progress, Runner, RunOptions
from ..evals.stats import mcnemar_exact
from ..evals.suite import load_suite
from ..models.ref import ModelRef
from ..settings import Settings
from ..store import connect
from ..store import evals as S
from .data import Example
from .registry import HeldOut

SUITE_FILE = "heldout.yaml"


def write_suite(examples: list[Example], folder: Path, name: str, max_tokens: int) -> Path:
    """The held-out cases as a suite file (also runnable later with `bakeoff run --suite`)."""
    cases = []
    for i, ex in enumerate(examples):
        msgs = ex.prompt_messages
        system = msgs[0].content if msgs[0].role == "system" else None
        history = [{"role": m.role, "content": m.content} for m in msgs[1 if system else 0:-1]]
        case = {"id": f"heldout-{i + 1:03d}", "description": ex.source, "vars": {"input": msgs[-1].content},
                "assert": [{"type": "equals", "value": ex.target}]}
        if system:
            case["system"] = system
        if history:
            case["history"] = history
        cases.append(case)
    suite = {"name": f"{name} held out", "prompt": "{{input}}",
             "params": {"temperature": 0, "max_tokens": max_tokens}, "cases": cases}
    path = folder / SUITE_FILE
    path.write_text(yaml.safe_dump(suite, sort_keys=False, allow_unicode=True, width=1000))
    return path


def paired(run: dict, base: str, tuned: str) -> HeldOut:
    status: dict[str, dict[str, bool]] = {base: {}, tuned: {}}
    for row in run["results"]:
        if row["model"] in status:
            status[row["model"]][row["case_id"]] = row["status"] == "pass"
    ids = sorted(set(status[base]) & set(status[tuned]))
    wins = sum(1 for c in ids if status[tuned][c] and not status[base][c])
    losses = sum(1 for c in ids if status[base][c] and not status[tuned][c])
    return HeldOut(n=len(ids), base_passed=sum(status[base][c] for c in ids),
                   tuned_passed=sum(status[tuned][c] for c in ids), wins=wins, losses=losses,
                   ties=len(ids) - wins - losses, mcnemar_p=mcnemar_exact(wins, losses),
                   run_id=run["id"])


def compare(suite_path: Path, base: ModelRef, tuned: ModelRef, settings: Settings,
            threads: int | None, progress: Progress | None = None) -> tuple[HeldOut, dict]:
    suite = load_suite(suite_path)
    options = RunOptions(speed=False, threads=threads, n_ctx=2048)
    runner = Runner(suite, [base, tuned], options, settings, progress or Progress())
    run_id = runner.start()
    runner.run(run_id)
    run = S.get_run(connect(settings), run_id)
    assert run is not None  # the runner has just written it
    failed = [r for r in run["model_rows"] if r["status"] != "done"]
    if failed:
        from ..errors import TrainingError

        raise TrainingError(f"the held-out bakeoff failed for {failed[0]['model']}: "
                            f"{failed[0].get('error')}", "fix the cause and run the same command")
    return paired(run, base.name, tuned.name), run


def write_report(run: dict, loss_curve: list[float], name: str, held: HeldOut, settings: Settings) -> Path:
    """The run's HTML report with the training loss curve and the paired result beside the
    leaderboard. The curve is stored with the run, so `bakeoff report N` draws it again."""
    from ..evals.metrics import board
    from ..evals.report import Figure, write_reports

    caption = (f"Held out, paired per case (n={held.n}): tuned wins {held.wins}, loses {held.losses}, "
               f"ties {held.ties}; exact McNemar p = {held.mcnemar_p:.2g}.")
    figure = Figure("loss", f"{name}: training loss", list(loss_curve), "optimizer step",
                    "loss per learned token", caption)
    db = connect(settings)
    S.save_figure(db, run["id"], figure.key, figure.to_dict())
    run = S.get_run(db, run["id"]) or run
    rows, pairs = board(run)
    return write_reports(run, rows, pairs)["html"]
