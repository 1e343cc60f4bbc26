"""`bakeoff arena ratings`: Bradley–Terry ratings with bootstrap intervals from the arena's votes."""

from __future__ import annotations

import click
from rich.table import Table

from ..arena.battles import auto_battle, ratings_from_store
from ..engines.base import GenParams
from ..models.registry import resolve
from ..store import connect
from .common import console, print_json


@click.group("arena")
def arena_group() -> None:
    """Blind pairwise battles (vote in the web UI: `bakeoff serve`, then open /#arena)."""


@arena_group.command("ratings")
@click.option("--voter", type=click.Choice(["all", "human", "judge"]), default="all", show_default=True,
              help="Whose votes to count.")
@click.option("--boot", "n_boot", type=click.IntRange(0, 10_000), default=200, show_default=True,
              help="Bootstrap resamples for the 95% intervals.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def ratings_cmd(voter: str, n_boot: int, as_json: bool) -> None:
    """Ratings (Bradley–Terry MLE, tie = half a win), 95% intervals, ranks and online Elo."""
    table = ratings_from_store(connect(), None if voter == "all" else voter, n_boot)
    if as_json:
        print_json(table)
        return
    if not table["ratings"]:
        console.print(f"No counted {'' if voter == 'all' else voter + ' '}votes yet "
                      f"({table['votes']} cast). Vote in the web UI: `bakeoff serve`, then open /#arena.")
        return
    t = Table(title=f"Arena ratings · {table['n_votes']} counted votes ({voter})")
    for col in ("rank", "model", "rating", "95% CI", "Elo", "games", "W/L/T"):
        t.add_column(col, justify="left" if col == "model" else "right")
    for r in table["ratings"]:
        t.add_row(str(r["rank"]), r["model"], r["text"]["rating"], r["text"]["ci"], r["text"]["elo"],
                  str(r["games"]), f"{r['wins']}/{r['losses']}/{r['ties']}")
    console.print(t)
    console.print(f"{table['method']}; {table['n_boot']} resamples, seed {table['seed']}; "
                  f"prior {table['prior']:g} virtual tie per pair; online Elo K={table['elo_k']:g}. "
                  "Rank = 1 + models whose interval lies entirely above.")


@arena_group.command("auto")
@click.argument("prompts_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--judge", "judge_name", required=True, help="The model that votes.")
@click.option("--models", "model_list", required=True,
              help="Comma-separated contestants (at least two); pairs are drawn at random.")
@click.option("--rounds", type=click.IntRange(1, 100), default=1, show_default=True,
              help="Battles per prompt.")
@click.option("--max-tokens", type=click.IntRange(1, 8192), default=256, show_default=True)
@click.option("--seed", type=int, default=None, help="Seed for the pairing (and sampling).")
def auto_cmd(prompts_file: str, judge_name: str, model_list: str, rounds: int, max_tokens: int,
             seed: int | None) -> None:
    """Judge-voted battles over PROMPTS_FILE (one prompt per line); the judge sees both orders and
    a disagreement counts as a tie. Votes land in the store as judge votes (`--voter judge`)."""
    import random
    from pathlib import Path

    from ..engines.factory import open_engine
    from ..store import connect

    prompts = [p.strip() for p in Path(prompts_file).read_text().splitlines() if p.strip()]
    # Canonical names, so an alias and the full name never split one model's ratings.
    models = [resolve(m.strip()).name for m in model_list.split(",") if m.strip()]
    engines: dict = {}

    def open_model(name: str):
        engines.setdefault(name, open_engine(name))
        return engines[name]

    judge_engine = open_model(judge_name)
    params = GenParams.build(max_tokens=max_tokens, temperature=0.7, seed=seed)
    rng, db = random.Random(seed), connect()
    for prompt in prompts:
        for _ in range(rounds):
            out = auto_battle(db, open_model, prompt, models, judge_engine, params, rng)
            m = out["models"]
            console.print(f"#{out['id']} {m['a']} vs {m['b']}: {out['vote']['winner']}")
    for engine in engines.values():
        engine.close()
