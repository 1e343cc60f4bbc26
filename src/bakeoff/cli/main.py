"""The `bakeoff` command. Each module in bakeoff.cli with a `register(cli)` function adds commands;
modules import heavy libraries inside their commands so `bakeoff --help` stays fast."""

from __future__ import annotations

import importlib
import pkgutil
import sys

import click

from ..errors import BakeoffError
from .errors import report

_SKIP = {"main", "common", "errors"}


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="bakeoff")
def cli() -> None:
    """Bakeoff: choose and use open-weights LLMs, offline, on your own cases and hardware."""


def _register_all() -> None:
    package = importlib.import_module("bakeoff.cli")
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        if info.name in _SKIP:
            continue
        module = importlib.import_module(f"bakeoff.cli.{info.name}")
        if hasattr(module, "register"):
            module.register(cli)


_register_all()


def main(argv: list[str] | None = None) -> int:
    try:
        cli.main(args=argv, prog_name="bakeoff", standalone_mode=False)
    except click.exceptions.Abort:
        print("interrupted", file=sys.stderr)
        return 130
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BakeoffError as exc:
        return report(exc)
    except Exception as exc:  # noqa: BLE001 - last line of defence: one line, no traceback
        return report(exc)
    return 0


if __name__ == "__main__":
    sys.exit(main())


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
