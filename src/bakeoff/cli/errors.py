"""The CLI's one table from error types to exit codes; messages come from the errors themselves."""

from __future__ import annotations

import os
import sys
import traceback

from .. import errors as E
from ..settings import SettingsValueError
from .common import printable

# Most specific first. Exit codes: 2 usage/input, 3 not found, 4 bad model file, 5 resources,
# 6 remote endpoint, 7 quality gate failed (`run --fail-under/--baseline`), 1 other.
EXIT_CODES: list[tuple[type[BaseException], int]] = [
    (E.AmbiguousModelError, 2),
    (E.ModelNotFoundError, 3),
    (E.NotFoundError, 3),
    (E.ModelFileError, 4),
    (E.ContextOverflowError, 2),
    (E.InvalidParamsError, 2),
    (E.SuiteError, 2),
    (SettingsValueError, 2),
    (E.HomeNotWritableError, 5),
    (E.WontFitError, 5),
    (E.InsufficientMemoryError, 5),
    (E.DiskSpaceError, 5),
    (E.PackageMissingError, 5),
    (E.BusyError, 5),
    (E.RemoteError, 6),
    (E.QualityGateError, 7),
    (E.BakeoffError, 1),
]


def exit_code(exc: BaseException) -> int:
    for kind, code in EXIT_CODES:
        if isinstance(exc, kind):
            return code
    return 1


def report(exc: BaseException) -> int:
    """Print one line (plus the hint) to stderr; a traceback only with BAKEOFF_DEBUG=1."""
    if os.environ.get("BAKEOFF_DEBUG"):
        traceback.print_exception(exc)
    if isinstance(exc, E.BakeoffError):
        msg = exc.message + (f" — {exc.hint}" if exc.hint else "")
    else:
        msg = f"unexpected {type(exc).__name__}: {exc} — rerun with BAKEOFF_DEBUG=1 for details"
    print(f"error: {printable(msg)}", file=sys.stderr)
    return exit_code(exc)
