"""A stored `bakeoff quants` sweep for tests of what reads one (pull, recommend): made by hand, so
each test states the verdicts it relies on."""

from __future__ import annotations

from bakeoff.models.quant_evidence import MeasuredQuant, QuantEvidence

MIB = 1 << 20
Q4_WHY = "rejected: significantly worse than the reference (9 vs 1 discordant cases, p = 0.021)"
Q5_EVIDENCE = ("3 vs 2 discordant of 40 cases, Holm-adjusted p = 1.00, score Δ -0.075 to +0.025; mean KLD "
               "0.0121 ± 0.0008 nats over 4088 tokens, top-1 agreement 95.2%")


def sweep(identity: dict, sizes: tuple[int, int, int, int] = (531, 420, 390, 380)) -> QuantEvidence:
    """A sweep of a model: Q8_0 reference; Q6_K and Q5_K_M not worse; Q4_K_M significantly worse."""
    q8, q6, q5, q4 = (s * MIB for s in sizes)
    return QuantEvidence(0, "", "model-Q8_0", "sha-" + str(identity), 7, "support", identity,
                         {"max_kld": 0.05, "notes": []}, [
                             MeasuredQuant("model-Q8_0", "Q8_0", q8, "reference", "70% ± 7% (n=40)"),
                             MeasuredQuant("model-Q6_K", "Q6_K", q6, "acceptable", "70% ± 7% (n=40)", "…"),
                             MeasuredQuant("model-Q5_K_M", "Q5_K_M", q5, "recommended", "68% ± 7% (n=40)",
                                           Q5_EVIDENCE),
                             MeasuredQuant("model-Q4_K_M", "Q4_K_M", q4, Q4_WHY, "50% ± 8% (n=40)", "…")])


QWEN = {"general.name": "Qwen2.5 0.5B Instruct",
        "general.source.huggingface.repository": "Qwen/Qwen2.5-0.5B-Instruct"}
