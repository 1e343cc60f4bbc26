"""Listing stays light (DESIGN: listing never loads llama.cpp): `bakeoff --help` and `bakeoff
models` run in a fresh interpreter without importing llama.cpp, and --help without the server's
web stack or numpy either, so the commands a user types first answer at once. Commands load
lazily: `bakeoff --help` imports none of them, `bakeoff ask --help` the ask module alone."""

from __future__ import annotations

import importlib
import json
import pkgutil
import subprocess
import sys

import click
import pytest

from bakeoff.cli.main import COMMANDS, cli, load_command

PROBE = """
import json, sys
from bakeoff.cli.main import COMMANDS, main
code = main(sys.argv[1:])
command_modules = {"bakeoff.cli." + target.split(":")[0] for target, _ in COMMANDS.values()}
heavy = {"llama_cpp", "fastapi", "uvicorn", "starlette", "numpy", "httpx", "pyarrow", "jinja2", "jsonschema"}
ours = sorted(m for m in sys.modules if m.startswith("bakeoff."))
print(json.dumps({"code": code, "heavy": sorted(heavy & {name.split(".")[0] for name in sys.modules}),
                  "commands": [m for m in ours if m in command_modules],
                  "evals": [m for m in ours if m.startswith("bakeoff.evals")]}))
"""


def _loaded(*argv: str) -> dict:
    out = subprocess.run([sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("argv, modules", [
    (["--help"], []),
    (["catalog", "--help"], ["bakeoff.cli.catalog"]),
    (["serve", "--help"], ["bakeoff.cli.serve"]),
    (["ask", "--help"], ["bakeoff.cli.ask"]),
])
def test_help_loads_no_heavy_library_and_only_its_own_command(argv: list[str], modules: list[str]) -> None:
    got = _loaded(*argv)
    assert (got["code"], got["heavy"], got["commands"]) == (0, [], modules)
    runners = [m for m in got["evals"] if m.startswith(("bakeoff.evals.bench", "bakeoff.evals.runner"))]
    assert runners == []   # the bench and bakeoff runners load with their own commands


def test_listing_models_never_loads_llama_cpp() -> None:
    got = _loaded("models", "--json")
    assert got["code"] == 0 and "llama_cpp" not in got["heavy"] and "fastapi" not in got["heavy"]


def test_the_command_table_names_each_command_and_its_help() -> None:
    """COMMANDS lists every command the cli modules define, by its own name, with the help
    `bakeoff --help` would show for it at any terminal width (at most 100 columns: click shortens
    each to 100 - 6 - the longest name's 9 characters)."""
    for name, (target, summary) in COMMANDS.items():
        cmd = load_command(target)
        assert cmd.name == name
        for limit in range(10, 86):
            assert click.Command(name, help=summary).get_short_help_str(limit) == \
                cmd.get_short_help_str(limit), (name, limit)
    package = importlib.import_module("bakeoff.cli")
    defined, nested = set(), set()
    for info in pkgutil.iter_modules(package.__path__):
        for value in vars(importlib.import_module(f"bakeoff.cli.{info.name}")).values():
            if isinstance(value, click.Command) and value is not cli:
                defined.add(value)
                nested |= set(value.commands.values()) if isinstance(value, click.Group) else set()
    tops = {c.name for c in defined - nested}
    assert tops == set(COMMANDS), "add new commands to COMMANDS in bakeoff/cli/main.py"
