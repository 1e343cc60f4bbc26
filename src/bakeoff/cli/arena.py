"""`bakeoff arena ratings`: Bradley–Terry ratings with bootstrap intervals from the arena's votes."""

from __future__ import annotations

import click
from rich.table import Table

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
    from ..arena.battles import ratings_from_store
    from ..store import connect

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
        t.add_row(str(r["rank"]), r["model"], f"{r['rating']:.0f}", f"{r['ci_low']:.0f}–{r['ci_high']:.0f}",
                  f"{r['elo']:.0f}", str(r["games"]), f"{r['wins']}/{r['losses']}/{r['ties']}")
    console.print(t)
    console.print(f"{table['method']}; {table['n_boot']} resamples, seed {table['seed']}; "
                  f"prior {table['prior']:g} virtual tie per pair; online Elo K={table['elo_k']:g}. "
                  "Rank = 1 + models whose interval lies entirely above.")


def register(cli: click.Group) -> None:
    cli.add_command(arena_group)
