"""One case's result in a bakeoff: what the model answered, how it was graded, what it cost."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from ..engines.base import Response, Timings, Usage
from .grade import ERROR, Grade


@dataclass
class CaseResult:
    case_id: str
    prompt: list[dict[str, str]]     # the messages sent
    status: str                      # pass | fail | error
    score: float = 0.0
    pass_score: float = 0.0
    reason: str = ""
    output: str = ""
    assertions: list[dict[str, Any]] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    timings: Timings = field(default_factory=Timings)
    cost_usd: float = 0.0
    cached: bool = False

    @classmethod
    def graded(cls, case_id: str, prompt: list[dict[str, str]], resp: Response, g: Grade,
               cost_usd: float, cached: bool) -> CaseResult:
        return cls(case_id, prompt, g.status, g.score, g.pass_score, g.reason, resp.text,
                   g.assertions, resp.usage, resp.timings, cost_usd, cached)

    @classmethod
    def failed(cls, case_id: str, prompt: list[dict[str, str]], reason: str) -> CaseResult:
        """The case could not run (e.g. its prompt does not fit): an error, never a pass."""
        return cls(case_id, prompt, ERROR, reason=reason)

    def row(self, position: int) -> dict[str, Any]:
        """The store's row (store/evals.py save_result)."""
        return {"case_id": self.case_id, "position": position, "status": self.status,
                "score": self.score, "pass_score": self.pass_score, "reason": self.reason,
                "output": self.output, "prompt": self.prompt, "assertions": self.assertions,
                "usage": asdict(self.usage), "timings": self.timings.to_dict(),
                "cost_usd": self.cost_usd, "cached": int(self.cached)}
