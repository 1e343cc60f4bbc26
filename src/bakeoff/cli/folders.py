"""`bakeoff folders`: folders of GGUF files that `bakeoff models` lists in place."""

from __future__ import annotations

from pathlib import Path

import click

from ..atomic import write_text_atomic
from ..models.sources.folders import folders_file, saved_folders
from ..settings import get_settings
from .common import console


def _save(paths: list[Path]) -> None:
    settings = get_settings()
    settings.ensure_home()
    write_text_atomic(folders_file(settings), "".join(f"{p}\n" for p in paths))


def _saved() -> list[Path]:
    return saved_folders(get_settings())


@click.group("folders", invoke_without_command=True)
@click.pass_context
def folders_cmd(ctx: click.Context) -> None:
    """Folders searched for GGUF files (besides BAKEOFF_MODEL_DIRS and other tools' stores)."""
    if ctx.invoked_subcommand is None:
        env = get_settings().model_dirs
        for p in _saved():
            console.print(str(p), markup=False)
        for p in env:
            console.print(f"{p}  (BAKEOFF_MODEL_DIRS)", markup=False)
        if not env and not _saved():
            console.print("no folders added; `bakeoff folders add PATH` adds one")


@folders_cmd.command("add")
@click.argument("path", type=click.Path(path_type=Path))
def add_cmd(path: Path) -> None:
    """Add a folder; its GGUF files (in sub-folders too) are listed by `bakeoff models`."""
    path = path.expanduser().resolve()
    if not path.is_dir():
        raise click.BadParameter(f"{path} is not a folder", param_hint="PATH")
    saved = _saved()
    if path not in saved:
        _save([*saved, path])
    console.print(f"added {path}", markup=False)


@folders_cmd.command("remove")
@click.argument("path", type=click.Path(path_type=Path))
def remove_cmd(path: Path) -> None:
    """Stop listing a folder (its files are left alone)."""
    saved = _saved()
    keep = [p for p in saved if p not in (path, path.expanduser().resolve())]
    if len(keep) == len(saved):
        raise click.BadParameter(f"{path} is not in the list; `bakeoff folders` shows it", param_hint="PATH")
    _save(keep)
    console.print(f"removed {path}", markup=False)
