"""Listing stays light (DESIGN: listing never loads llama.cpp): `bakeoff --help` and `bakeoff
models` run in a fresh interpreter without importing llama.cpp, and --help without the server's
web stack or numpy either, so the commands a user types first answer at once."""

from __future__ import annotations

import subprocess
import sys

import pytest

PROBE = """
import sys
from bakeoff.cli.main import main
code = main(sys.argv[1:])
heavy = {"llama_cpp", "fastapi", "uvicorn", "starlette", "numpy", "httpx", "pyarrow", "jinja2"}
print(code, sorted(heavy & {name.split(".")[0] for name in sys.modules}))
"""


def _loaded(*argv: str) -> str:
    out = subprocess.run([sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip().splitlines()[-1]


@pytest.mark.parametrize("argv", [["--help"], ["catalog", "--help"], ["serve", "--help"]])
def test_help_loads_no_heavy_library(argv: list[str]) -> None:
    assert _loaded(*argv) == "0 []"


def test_listing_models_never_loads_llama_cpp() -> None:
    code, loaded = _loaded("models", "--json").split(" ", 1)
    assert code == "0" and "llama_cpp" not in loaded and "fastapi" not in loaded
