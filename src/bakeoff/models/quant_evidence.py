"""What a `bakeoff quants` sweep measured, as later choices of a quantization read it.

`bakeoff quants` (evals/quants.py) keeps one `QuantEvidence` per reference file in the store;
`bakeoff pull` and `bakeoff recommend` ask `pick_quant` which of the quantizations they could use is
the smallest one that evidence supports: a quant the sweep found not significantly worse than the
reference on the suite with its KL divergence under the bar, or the reference's own type. Types the
sweep rejected or never measured are not chosen from evidence; with nothing usable the caller falls
back to its rule and says that the quantization's effect is unknown here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

SUPPORTED = ("recommended", "acceptable", "reference")   # verdicts a choice may rest on


@dataclass(frozen=True)
class MeasuredQuant:
    """One file of a sweep: its type, size, verdict, and the evidence as text (n and intervals)."""

    model: str
    quantization: str | None
    size_bytes: int
    verdict: str                     # reference | recommended | acceptable | rejected: … | not compared …
    pass_rate: str                   # "54% ± 9% (n=30)"
    evidence: str = ""               # vs the reference: discordant cases, p, score Δ, KLD, top-1

    @property
    def supported(self) -> bool:
        return self.verdict in SUPPORTED

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class QuantEvidence:
    """The latest `bakeoff quants` sweep of one reference file."""

    id: int
    created_at: str
    reference: str
    reference_sha256: str | None
    run_id: int
    suite: str
    identity: dict[str, Any]         # the reference's general.* GGUF metadata
    settings: dict[str, Any]         # max_kld, kld_ctx, kld_chunks, text, notes
    quants: list[MeasuredQuant] = field(default_factory=list)   # the reference first

    @property
    def reference_quant(self) -> str | None:
        return self.quants[0].quantization if self.quants else None

    @property
    def source(self) -> str:
        """Where the evidence comes from, in words."""
        return (f"`bakeoff quants` here on {self.created_at[:10]}: suite {self.suite} (run {self.run_id}), "
                f"reference {self.reference} ({self.reference_quant or '?'}), KLD bar "
                f"{self.settings.get('max_kld', '?')} nats")

    def by_type(self) -> dict[str, MeasuredQuant]:
        return {q.quantization.upper(): q for q in self.quants if q.quantization}

    def summary(self) -> str:
        """Every measured type and its verdict, smallest first: 'Q4_K_M rejected: …; Q5_K_M acceptable'."""
        return "; ".join(f"{q.quantization or q.model} {q.verdict}"
                         for q in sorted(self.quants, key=lambda q: q.size_bytes))


@dataclass(frozen=True)
class QuantPick:
    """A quantization chosen from evidence, and why."""

    quantization: str
    measured: MeasuredQuant
    reason: str


def pick_quant(evidence: QuantEvidence, offered: Iterable[str],
               fits: Callable[[str], bool]) -> QuantPick | None:
    """The smallest quantization the sweep supports (not significantly worse and under the KLD bar,
    or the reference's type) among those `offered` that `fits` this machine; None when none is."""
    offered_types = {q.upper() for q in offered}
    usable = [q for t, q in evidence.by_type().items()
              if q.supported and t in offered_types and fits(t)]
    if not usable:
        return None
    best = min(usable, key=lambda q: q.size_bytes)
    assert best.quantization is not None
    ref = evidence.reference_quant or "?"
    if best.verdict == "reference":
        what = (f"the reference type of the quantization sweep here; no smaller measured type is both "
                f"supported and offered ({evidence.summary()})")
    else:
        what = (f"the smallest quantization measured here as not significantly worse than {ref} "
                f"({best.evidence})")
    return QuantPick(best.quantization, best, f"{best.quantization}: {what}; {evidence.source}")


def unused_note(evidence: QuantEvidence, offered: Iterable[str]) -> str:
    """Why evidence that exists could not choose: what it covers against what is offered."""
    return (f"quantization evidence here ({evidence.source}) covers {evidence.summary()}; none of the "
            f"supported types is offered and fits ({', '.join(sorted(set(offered))) or 'nothing offered'})")


NO_EVIDENCE = ("the quantization's effect on quality is unknown here: no `bakeoff quants` sweep of this "
               "model (pull two quantizations, or make them with `bakeoff quantize`, then run `bakeoff quants`)")


__all__ = ["NO_EVIDENCE", "MeasuredQuant", "QuantEvidence", "QuantPick", "pick_quant", "unused_note"]
