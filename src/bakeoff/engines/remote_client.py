"""HTTP plumbing for remote OpenAI-compatible endpoints: retries, backoff, adaptive concurrency.

Retries cover 429, 5xx, dropped connections and timeouts, with exponential backoff and full jitter
(AWS Architecture Blog, "Exponential Backoff And Jitter", 2015), honouring Retry-After. Each endpoint
has one concurrency limit per process that halves when the server rate-limits us and creeps back up
by one after a run of successes (additive increase, multiplicative decrease, as TCP does).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from .. import jsontext
from ..errors import RemoteError

RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}
TRANSIENT = (httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError, httpx.ReadTimeout,
             httpx.WriteError, httpx.PoolTimeout, httpx.ConnectTimeout)


class AdaptiveLimiter:
    """A semaphore whose limit shrinks on rate limiting and grows back on success."""

    def __init__(self, limit: int):
        self.max = limit
        self.limit = limit
        self.active = 0
        self._ok_streak = 0
        self._cv = threading.Condition()

    @contextmanager
    def slot(self) -> Iterator[None]:
        with self._cv:
            while self.active >= self.limit:
                self._cv.wait()
            self.active += 1
        try:
            yield
        finally:
            with self._cv:
                self.active -= 1
                self._cv.notify_all()

    def rate_limited(self) -> None:
        with self._cv:
            self.limit = max(1, self.limit // 2)
            self._ok_streak = 0

    def succeeded(self) -> None:
        with self._cv:
            self._ok_streak += 1
            if self.limit < self.max and self._ok_streak >= self.limit:
                self.limit += 1
                self._ok_streak = 0
                self._cv.notify_all()


_limiters: dict[str, AdaptiveLimiter] = {}
_limiters_lock = threading.Lock()


def limiter_for(name: str, limit: int) -> AdaptiveLimiter:
    with _limiters_lock:
        lim = _limiters.get(name)
        if lim is None or lim.max != limit:
            lim = _limiters[name] = AdaptiveLimiter(limit)
        return lim


def backoff_delay(attempt: int, retry_after: str | None, base: float = 0.25, cap: float = 20.0) -> float:
    if retry_after:
        try:
            return min(float(retry_after), 60.0)
        except ValueError:
            pass
    return random.uniform(0, min(cap, base * 2 ** attempt))


def server_message(resp: httpx.Response) -> str:
    try:
        body = jsontext.loads(resp.content)
    except ValueError:
        return resp.text[:200].strip() or resp.reason_phrase
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict):
            return str(err.get("message") or err.get("detail") or err)[:300]
        return str(err)[:300]
    return str(body)[:300]


def http_error(endpoint: str, resp: httpx.Response) -> RemoteError:
    msg = server_message(resp)
    hints = {401: "check the API key (bakeoff endpoints add ... --api-key-env VAR, and export VAR)",
             403: "check the API key's permissions",
             404: "check --model: `bakeoff endpoints test NAME` lists the server's models"}
    return RemoteError(endpoint, msg, resp.status_code, hints.get(resp.status_code))


def unreachable(endpoint: str, url: str, exc: Exception) -> RemoteError:
    return RemoteError(endpoint, f"cannot reach {url}: {type(exc).__name__}: {exc}".rstrip(": "),
                       hint="check the URL and that the server is running")


class RetryingClient:
    """POST with retries; streaming callers get a fresh response per attempt."""

    def __init__(self, endpoint: str, base_url: str, api_key: str | None, timeout: float,
                 max_retries: int, limiter: AdaptiveLimiter):
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.endpoint, self.base_url = endpoint, base_url
        self.max_retries, self.limiter = max_retries, limiter
        self.http = httpx.Client(base_url=base_url, headers=headers,
                                 timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)))
        self.retries = 0  # total retries made (reported by benchmarks and tests)

    def attempts(self) -> Iterator[int]:
        for attempt in range(self.max_retries + 1):
            yield attempt

    def should_retry(self, attempt: int, status: int | None, retry_after: str | None) -> bool:
        if attempt >= self.max_retries:
            return False
        if status == 429:
            self.limiter.rate_limited()
        self.retries += 1
        time.sleep(backoff_delay(attempt, retry_after))
        return True

    def post_json(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        for attempt in self.attempts():
            try:
                with self.limiter.slot():
                    resp = self.http.post(path, json=body)
            except TRANSIENT as exc:
                if self.should_retry(attempt, None, None):
                    continue
                raise unreachable(self.endpoint, self.base_url + path, exc) from None
            if resp.status_code in RETRY_STATUS and self.should_retry(
                    attempt, resp.status_code, resp.headers.get("retry-after")):
                continue
            if resp.status_code >= 400:
                raise http_error(self.endpoint, resp)
            self.limiter.succeeded()
            try:
                return jsontext.loads(resp.content)
            except ValueError:
                raise RemoteError(self.endpoint, f"non-JSON answer from {path}", resp.status_code) from None
        raise RemoteError(self.endpoint, "gave up after retries")

    def get_json(self, path: str) -> Any:
        try:
            resp = self.http.get(path)
        except TRANSIENT + (httpx.TimeoutException,) as exc:
            raise unreachable(self.endpoint, self.base_url + path, exc) from None
        if resp.status_code >= 400:
            raise http_error(self.endpoint, resp)
        try:
            return jsontext.loads(resp.content)
        except ValueError:
            raise RemoteError(self.endpoint, f"non-JSON answer from {path} "
                              f"({resp.headers.get('content-type', 'no content type')})", resp.status_code,
                              hint="check --base-url: it should end in /v1 of an OpenAI-compatible "
                                   "server") from None

    def close(self) -> None:
        self.http.close()
