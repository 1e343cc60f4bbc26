"""Shared pieces of the UI API: typed errors -> JSON, parameters, store access."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from typing import Annotated, Any

from fastapi import Path, Request
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from .. import errors as E
from ..engines.base import GenParams
from ..models.registry import Registry
from ..store.db import connect
from .errors import classify, public_error

# A row id in a URL: SQLite integers are 64-bit, so a larger number is refused as a bad parameter.
RowId = Annotated[int, Path(le=2**63 - 1)]

# Sampling parameters the UI exposes (the rest of GenParams is for the API and evaluator).
UI_PARAMS = ("max_tokens", "temperature", "top_p", "top_k", "min_p", "repeat_penalty", "seed", "stop")


class UIRoute(APIRoute):
    """Turns typed errors into {"error": {"message", "hint"}} for every route of the UI API; the
    status and headers come from the server's one error table (server/errors.py)."""

    def get_route_handler(self) -> Callable:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Any:
            try:
                return await handler(request)
            except E.BakeoffError as exc:
                status, _, headers = classify(exc)
                message, hint = public_error(exc)
                return JSONResponse({"error": {"message": message, "hint": hint, "type": type(exc).__name__}},
                                    status_code=status, headers=headers)

        return handle


def db_for(request: Request) -> Iterator[sqlite3.Connection]:
    """FastAPI dependency: one store connection per request, closed afterwards."""
    db = connect(request.app.state.settings)
    try:
        yield db
    finally:
        db.close()


def build_params(*layers: dict[str, Any] | None) -> GenParams:
    """Later layers override earlier ones; unknown keys are an error that names them."""
    merged: dict[str, Any] = {}
    for layer in layers:
        merged.update({k: v for k, v in (layer or {}).items() if v is not None or k == "max_tokens"})
    unknown = sorted(set(merged) - set(UI_PARAMS))
    if unknown:
        raise E.InvalidParamsError(f"unknown parameter {unknown[0]!r}", param=unknown[0],
                                   hint=f"valid parameters: {', '.join(UI_PARAMS)}")
    return GenParams.build(**merged)


def params_schema() -> list[dict[str, Any]]:
    """The UI's parameter form, derived from GenParams so it cannot drift."""
    out = []
    for name in UI_PARAMS:
        field = GenParams.model_fields[name]
        bounds = {m.__class__.__name__: getattr(m, m.__class__.__name__.lower(), None)
                  for m in field.metadata}
        default = field.default if name != "stop" else []
        out.append({"name": name, "default": default, "description": field.description,
                    "min": bounds.get("Ge", bounds.get("Gt")), "max": bounds.get("Le")})
    return out


def model_names(request: Request) -> list[str]:
    return [r.name for r in request.app.state.pool.refs()]


def served_name(request: Request, name: str) -> str:
    """The canonical name of a model this server serves; never a file path sent by a client."""
    ref = Registry(request.app.state.settings).resolve(name)
    served = model_names(request)
    if ref.source == "file" or ref.name not in served:
        raise E.ModelNotFoundError(name, served[:5])
    return ref.name
