"""Prometheus text metrics: requests, tokens, time to first token, output tokens/s, queue depth,
speculative drafts (tokens drafted and kept, and the share kept).

Small and dependency-free: counters and histograms keyed by label tuples, rendered on scrape.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable, Iterable

TTFT_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
TPS_BUCKETS = (1.0, 5.0, 10.0, 25.0, 50.0, 100.0, 200.0, 400.0, 800.0)


class Histogram:
    def __init__(self, buckets: tuple[float, ...]):
        self.buckets = buckets
        self.counts = [0] * (len(buckets) + 1)
        self.total = 0.0
        self.n = 0

    def observe(self, value: float) -> None:
        i = next((i for i, b in enumerate(self.buckets) if value <= b), len(self.buckets))
        self.counts[i] += 1
        self.total += value
        self.n += 1

    def lines(self, name: str, labels: str) -> Iterable[str]:
        cum = 0
        sep = "," if labels else ""
        for b, c in zip((*self.buckets, float("inf")), self.counts):
            cum += c
            le = "+Inf" if b == float("inf") else f"{b:g}"
            yield f'{name}_bucket{{{labels}{sep}le="{le}"}} {cum}'
        yield f"{name}_sum{{{labels}}} {self.total:.6f}"
        yield f"{name}_count{{{labels}}} {self.n}"


def _labels(**kw: str) -> str:
    return ",".join(f'{k}="{str(v).replace(chr(34), "")}"' for k, v in kw.items())


class Metrics:
    def __init__(self, gauges: Callable[[], dict[str, dict[str, int]]] | None = None):
        self._lock = threading.Lock()
        self.requests: dict[tuple[str, int], int] = defaultdict(int)
        self.tokens: dict[tuple[str, str], int] = defaultdict(int)
        self.drafts: dict[tuple[str, str], int] = defaultdict(int)   # (model, drafted|accepted)
        self.ttft: dict[str, Histogram] = {}
        self.tps: dict[str, Histogram] = {}
        self.gauges = gauges or (lambda: {})

    def request(self, endpoint: str, status: int) -> None:
        with self._lock:
            self.requests[(endpoint, status)] += 1

    def finished(self, model: str, prompt_tokens: int, completion_tokens: int, ttft_s: float,
                 output_tps: float, *, drafted: int = 0, accepted: int = 0) -> None:
        with self._lock:
            self.tokens[(model, "prompt")] += prompt_tokens
            self.tokens[(model, "completion")] += completion_tokens
            if drafted:
                self.drafts[(model, "drafted")] += drafted
                self.drafts[(model, "accepted")] += accepted
            if completion_tokens:
                self.ttft.setdefault(model, Histogram(TTFT_BUCKETS)).observe(ttft_s)
            if output_tps > 0:
                self.tps.setdefault(model, Histogram(TPS_BUCKETS)).observe(output_tps)

    def render(self) -> str:
        out = ["# HELP bakeoff_requests_total HTTP requests by endpoint and status.",
               "# TYPE bakeoff_requests_total counter"]
        with self._lock:
            for (ep, status), n in sorted(self.requests.items()):
                out.append(f"bakeoff_requests_total{{{_labels(endpoint=ep, status=status)}}} {n}")
            out += ["# HELP bakeoff_tokens_total Tokens processed (kind: prompt or completion).",
                    "# TYPE bakeoff_tokens_total counter"]
            for (model, kind), n in sorted(self.tokens.items()):
                out.append(f"bakeoff_tokens_total{{{_labels(model=model, kind=kind)}}} {n}")
            out += ["# HELP bakeoff_time_to_first_token_seconds Request arrival to first token.",
                    "# TYPE bakeoff_time_to_first_token_seconds histogram"]
            for model, h in sorted(self.ttft.items()):
                out += h.lines("bakeoff_time_to_first_token_seconds", _labels(model=model))
            out += ["# HELP bakeoff_output_tokens_per_second Per-request output speed after the first token.",
                    "# TYPE bakeoff_output_tokens_per_second histogram"]
            for model, h in sorted(self.tps.items()):
                out += h.lines("bakeoff_output_tokens_per_second", _labels(model=model))
            out += self._draft_lines()
        out += self._gauge_lines()
        return "\n".join(out) + "\n"

    def _draft_lines(self) -> list[str]:
        """Speculative decoding: draft tokens verified, those kept, and the share kept."""
        models = sorted({m for m, _ in self.drafts})
        out = ["# HELP bakeoff_draft_tokens_total Tokens proposed by speculative drafts (prompt lookup).",
               "# TYPE bakeoff_draft_tokens_total counter"]
        out += [f"bakeoff_draft_tokens_total{{{_labels(model=m)}}} {self.drafts[(m, 'drafted')]}" for m in models]
        out += ["# HELP bakeoff_draft_accepted_tokens_total Drafted tokens that verification kept.",
                "# TYPE bakeoff_draft_accepted_tokens_total counter"]
        out += [f"bakeoff_draft_accepted_tokens_total{{{_labels(model=m)}}} {self.drafts[(m, 'accepted')]}"
                for m in models]
        out += ["# HELP bakeoff_draft_acceptance_ratio Accepted / drafted tokens since the server started.",
                "# TYPE bakeoff_draft_acceptance_ratio gauge"]
        out += [f"bakeoff_draft_acceptance_ratio{{{_labels(model=m)}}} "
                f"{self.drafts[(m, 'accepted')] / self.drafts[(m, 'drafted')]:.4f}" for m in models]
        return out

    def _gauge_lines(self) -> list[str]:
        stats = self.gauges()
        out = []
        for key, help_ in (("queued", "Requests waiting for a batch slot."),
                           ("active", "Sequences being decoded."), ("slots", "Batch slots.")):
            name = {"queued": "bakeoff_queue_depth",
                    "active": "bakeoff_active_sequences"}.get(key, "bakeoff_batch_slots")
            out += [f"# HELP {name} {help_}", f"# TYPE {name} gauge"]
            out += [f"{name}{{{_labels(model=m)}}} {s.get(key, 0)}" for m, s in sorted(stats.items())]
        out += ["# HELP bakeoff_batch_steps_total Batched decode steps (one llama_decode each).",
                "# TYPE bakeoff_batch_steps_total counter"]
        out += [f"bakeoff_batch_steps_total{{{_labels(model=m)}}} {s.get('steps', 0)}"
                for m, s in sorted(stats.items())]
        return out


class CountRequests:
    """ASGI middleware counting responses by endpoint and status (unknown paths as "other").

    A response is counted when it ends: a client that left before its whole answer was sent (a
    stream cut off, or the request body never finished) is a 499, whatever status had begun."""

    def __init__(self, app, metrics: Metrics, endpoints: set[str]):
        self.app, self.metrics, self.endpoints = app, metrics, endpoints

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"] if scope["path"] in self.endpoints else "other"
        status: int | None = None
        complete = left = False   # left: the client went before its answer was complete

        async def watching_receive():
            nonlocal left
            message = await receive()
            left = left or (message["type"] == "http.disconnect" and not complete)
            return message

        async def counting_send(message) -> None:
            nonlocal status, complete
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body" and not message.get("more_body", False):
                complete = True
            await send(message)

        try:
            await self.app(scope, watching_receive, counting_send)
        except Exception:  # the outermost handler turns it into a 500 after this middleware
            status = status or 500
            raise
        finally:
            self.metrics.request(path, 499 if left or status is None else status)
