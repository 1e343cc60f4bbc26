"""Safe defaults as one ASGI middleware: API key, Host check (DNS rebinding), Origin check on
state-changing requests (CSRF), request size limit.

A browser page on another site can reach a loopback server through DNS rebinding (its own name
resolving to 127.0.0.1); checking the Host header stops that, as the API key does where it is set.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Any

from ..hosts import LOOPBACK_NAMES, host_name, is_loopback, is_wildcard
from .errors import send_error

__all__ = ["LOOPBACK_NAMES", "Guard", "host_name", "is_loopback", "is_wildcard"]

PUBLIC_PATHS = {"/health"}
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def cross_site(headers: dict[str, str]) -> str | None:
    """Why a state-changing request looks sent by another site's page, or None.

    A page elsewhere can make the browser POST here (a form, a `no-cors` fetch: no preflight, no
    custom headers), and the API key does not help where none is set. Browsers mark such requests:
    `Origin` names the page's origin and `Sec-Fetch-Site` says whether it is this origin. Clients
    that are not browsers (curl, the openai SDK) send neither and are not affected."""
    site = headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return f"cross-site request refused (Sec-Fetch-Site: {site})"
    origin = headers.get("origin")
    if origin is None:
        return None
    netloc = origin.split("://", 1)[1] if "://" in origin else ""
    if netloc.lower() != headers.get("host", "").strip().lower():
        return f"cross-site request refused (Origin {origin!r} is not this server)"
    return None


class Guard:
    """Pure ASGI middleware (works for streaming responses, unlike BaseHTTPMiddleware)."""

    def __init__(self, app: Any, *, api_key: str | None, bound_host: str, max_body: int,
                 extra_hosts: tuple[str, ...] = ()):
        self.app = app
        self.api_key = api_key
        self.max_body = max_body
        # A wildcard bind (allowed only with a key) accepts any Host: the key is the protection.
        self.any_host = is_wildcard(bound_host)
        self.hosts = LOOPBACK_NAMES | {host_name(bound_host)} | {h.lower() for h in extra_hosts}

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        problem = self._check(scope, headers)
        if problem is not None:
            await send_error(send, *problem)
            return
        await self._limited(scope, receive, send)

    def _check(self, scope: dict, headers: dict[str, str]) -> tuple[int, str, dict] | None:
        host = host_name(headers.get("host", ""))
        if not self.any_host and host not in self.hosts:
            return 421, f"Host {host!r} is not served here (allowed: {', '.join(sorted(self.hosts))})", {}
        if self.api_key and scope["path"] not in PUBLIC_PATHS:
            auth = headers.get("authorization", "")
            given = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
            if not hmac.compare_digest(given.encode(), self.api_key.encode()):
                return (401, "missing or wrong API key: send Authorization: Bearer <key>",
                        {"www-authenticate": "Bearer"})
        if scope["method"] not in SAFE_METHODS:
            refused = cross_site(headers)
            if refused:
                return 403, refused, {}
        length = headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body):
            return 413, f"request body larger than {self.max_body} bytes", {}
        return None

    async def _limited(self, scope: dict, receive: Callable, send: Callable) -> None:
        """Counts body bytes as they arrive (chunked requests have no Content-Length): past the
        limit, answer 413 ourselves and tell the app the client left."""
        seen, replied = 0, False

        async def limited_receive() -> dict:
            nonlocal seen, replied
            message = await receive()
            if message["type"] == "http.request" and not replied:
                seen += len(message.get("body", b""))
                if seen > self.max_body:
                    replied = True
                    await send_error(send, 413, f"request body larger than {self.max_body} bytes", {})
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: dict) -> None:
            if not replied:
                await send(message)

        await self.app(scope, limited_receive, guarded_send)
