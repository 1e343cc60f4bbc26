"""The server's one table from error types to OpenAI's error shape and HTTP status.

{"error": {"message", "type", "param", "code"}}; nothing matches on message text.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from .. import errors as E
from ..terminal import PrintableLog

log = logging.getLogger("bakeoff.server")
log.addFilter(PrintableLog())   # request paths and client text reach the terminal through the log

# Most specific first: (error type, HTTP status, OpenAI error type, code).
ERROR_TABLE: list[tuple[type[BaseException], int, str, str | None]] = [
    (E.AmbiguousModelError, 400, "invalid_request_error", "ambiguous_model"),
    (E.ModelNotFoundError, 404, "invalid_request_error", "model_not_found"),
    (E.NotFoundError, 404, "invalid_request_error", "not_found"),
    (E.ContextOverflowError, 400, "invalid_request_error", "context_length_exceeded"),
    (E.InvalidParamsError, 400, "invalid_request_error", "invalid_value"),
    (E.UnsupportedError, 400, "invalid_request_error", "unsupported"),
    (E.BusyError, 429, "rate_limit_error", "server_busy"),
    # 507 Insufficient Storage: the server cannot hold what the request needs; retrying will not help
    # until memory is freed or the limits change (the hint says which), unlike a busy 429/503.
    (E.InsufficientMemoryError, 507, "server_error", "insufficient_memory"),
    (E.ModelFileError, 500, "server_error", "model_file_error"),
    (E.RemoteError, 502, "server_error", "upstream_error"),
    (E.EngineError, 503, "server_error", "engine_error"),
    (E.BakeoffError, 500, "server_error", None),
]

HTTP_TYPES = {401: ("invalid_request_error", "invalid_api_key"),
              403: ("invalid_request_error", "cross_site_request"), 404: ("invalid_request_error", "not_found"),
              405: ("invalid_request_error", "method_not_allowed"), 413: ("invalid_request_error", "request_too_large"),
              421: ("invalid_request_error", "invalid_host"), 429: ("rate_limit_error", "server_busy")}


class ClientDisconnected(Exception):
    """The client closed the connection before its answer was complete (logged as status 499)."""


def error_body(message: str, type_: str, param: str | None = None, code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


def error_response(status: int, message: str, type_: str, param: str | None = None,
                   code: str | None = None, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error_body(message, type_, param, code), status_code=status, headers=headers)


# An absolute path in a message (not the path part of a URL): "/home/me/models/x.gguf".
_ABS_PATH = re.compile(r"(?<![\w.:/~-])(?:/[^\s/'\"`:,;()]+)+/([^\s/'\"`:,;()]+)")


def without_paths(message: str) -> str:
    """Server errors name files by their base name: a client learns nothing of the disk layout."""
    return _ABS_PATH.sub(r"\1", message)


def public_error(exc: BaseException) -> tuple[str, str]:
    """(message, hint) a client may see: a server-side failure names no absolute path, and an
    exception that is not ours is only named by its type (the details go to the log)."""
    status, body, _ = classify(exc)
    if not isinstance(exc, E.BakeoffError):
        return body["error"]["message"], ""
    tidy = without_paths if status >= 500 else str
    return tidy(exc.message), tidy(exc.hint)


def classify(exc: BaseException) -> tuple[int, dict[str, Any], dict[str, str]]:
    """(status, body, headers) for any exception; unknown ones are a 500 without internals."""
    for kind, status, type_, code in ERROR_TABLE:
        if isinstance(exc, kind):
            message = str(exc) if status < 500 else without_paths(str(exc))
            param = getattr(exc, "param", None)
            headers = {}
            if isinstance(exc, E.BusyError):
                headers["Retry-After"] = str(max(1, round(exc.retry_after)))
            return status, error_body(message, type_, param, code), headers
    log.exception("unexpected error", exc_info=exc)
    return 500, error_body(f"internal error ({type(exc).__name__})", "server_error"), {}


def validation_message(exc: RequestValidationError) -> tuple[str, str | None]:
    err = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
    if err.get("type") == "json_invalid":
        return f"the request body is not valid JSON: {err.get('ctx', {}).get('error', '')}".strip(": "), None
    loc = [str(p) for p in err.get("loc", ()) if p != "body"]
    param = ".".join(loc) or None
    return (f"invalid parameter {param}: {err.get('msg')}" if param else str(err.get("msg"))), param


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(E.BakeoffError)
    async def _bakeoff(_: Request, exc: E.BakeoffError) -> JSONResponse:
        status, body, headers = classify(exc)
        return JSONResponse(body, status_code=status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        message, param = validation_message(exc)
        return error_response(400, message, "invalid_request_error", param, "invalid_value")

    @app.exception_handler(HTTPException)
    async def _http(_: Request, exc: HTTPException) -> JSONResponse:
        type_, code = HTTP_TYPES.get(exc.status_code, ("invalid_request_error", None))
        if exc.status_code >= 500:
            type_ = "server_error"
        return error_response(exc.status_code, str(exc.detail), type_, None, code,
                              headers=getattr(exc, "headers", None))

    @app.exception_handler(ClientDisconnected)
    async def _gone(_: Request, exc: ClientDisconnected) -> Response:
        return Response(status_code=499)   # nobody reads it; nginx's code for "client closed request"

    @app.exception_handler(Exception)
    async def _any(_: Request, exc: Exception) -> JSONResponse:
        status, body, headers = classify(exc)
        return JSONResponse(body, status_code=status, headers=headers)


class QuietCancel:
    """ASGI middleware: a request task cancelled because the server is shutting down (SIGTERM, then
    the graceful-shutdown window passed) ends with one log line, not a CancelledError traceback."""

    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        started = False

        async def tracked(message: dict) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            if message["type"] == "lifespan.shutdown.failed" and "CancelledError" in message.get("message", ""):
                # a second Ctrl-C cancels the shutdown itself: say so in one line, not a traceback
                log.warning("stopped at once (a second Ctrl-C): requests still running were cancelled")
                message = {"type": "lifespan.shutdown.complete"}
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except asyncio.CancelledError:
            if scope["type"] == "lifespan":   # a second Ctrl-C: uvicorn is already exiting
                return
            if scope["type"] != "http":
                raise
            log.warning("request %s %s cancelled: the server is shutting down", scope["method"], scope["path"])
            if not started:   # else uvicorn answers a bare "Internal Server Error"
                await send_error(send, 503, "the server is shutting down; retry on another server or later", {})


async def send_error(send: Any, status: int, message: str, headers: dict[str, str]) -> None:
    """An error reply sent by ASGI middleware (outside FastAPI's handlers), in the API's format."""
    type_, code = HTTP_TYPES.get(status, ("invalid_request_error", None))
    body = json.dumps(error_body(message, type_, None, code)).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.encode(), v.encode()) for k, v in headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
