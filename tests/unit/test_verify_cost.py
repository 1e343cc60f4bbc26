"""Draft lengths chosen by what a verification decode costs here and how often drafts were kept."""

from __future__ import annotations

import json

import numpy as np
import pytest
from test_speculative import FakeModel, copy_rule, generate

from bakeoff.engines import verify_cost
from bakeoff.engines.speculative import LookupStats, PromptLookup, Speculator
from bakeoff.engines.verify_cost import LONG_FROM, VerifyCost, cached, probe, probe_region, save
from bakeoff.settings import get_settings


def linear(per_token: float = 0.01) -> VerifyCost:
    """A machine where a decode of n tokens costs n single decodes: batching saves nothing."""
    return VerifyCost({1: per_token, 32: 32 * per_token})


def flat() -> VerifyCost:
    """A machine where any decode up to 32 tokens costs one (a big model, memory-bound)."""
    return VerifyCost({1: 0.01, 32: 0.01})


def test_no_draft_pays_when_a_batch_costs_its_size():
    for p in (0.5, 0.9, 0.99):
        assert linear().best_draft(p, 20) == 0


def test_a_flat_cost_drafts_everything_available():
    assert flat().best_draft(0.95, 12) == 12
    assert flat().best_draft(0.99, 40) == 31    # never past the exact verification limit
    assert flat().best_draft(0.3, 12) <= 4       # tokens that add under 2% each are not worth it


def test_the_measured_cpu_curve_wants_long_confident_drafts_only():
    # SmolLM2-135M Q8_0 on 2 threads (the module docstring's figures, in seconds)
    cost = VerifyCost({1: 0.0085, 2: 0.0155, 4: 0.0199, 8: 0.0269, 16: 0.0480})
    assert cost.best_draft(0.5, 16) == 0        # a coin-flip draft never pays
    d = cost.best_draft(0.95, 16)
    assert d >= 7                               # a copied span is verified in long steps
    assert cost.best_draft(0.8, 1) == 0         # one token alone costs nearly two decodes


def test_costs_between_probed_sizes_are_interpolated_and_follow_observations():
    cost = VerifyCost({1: 0.01, 4: 0.04})
    assert abs(cost.cost(2) - 0.02) < 1e-12
    assert cost.cost(32) == 0.04                 # flat past the largest size known
    for _ in range(50):
        cost.observe(4, 0.02)                    # the machine got faster at 4 tokens
    assert abs(cost.cost(4) - 0.02) < 1e-4
    cost.observe(0, 1.0)                         # out of range: ignored
    cost.observe(33, 1.0)
    assert set(cost.known) == {1, 4}


class LogitModel(FakeModel):
    """FakeModel with logits: a function of token and position, perturbed in batches larger than
    `exact_up_to` (as llama.cpp's tiled kernels round differently)."""

    def __init__(self, exact_up_to: int = 32):
        super().__init__(lambda t, p: t)
        self.exact_up_to = exact_up_to
        self.rows: list[np.ndarray] = []

    def decode(self, tokens, positions, seq_ids, want_logits):
        super().decode(tokens, positions, seq_ids, want_logits)
        noise = 1e-6 if len(tokens) > self.exact_up_to else 0.0
        self.rows = [np.array([t, p, t * p], dtype=np.float32) + noise for t, p in zip(tokens, positions)]

    def logits(self, i: int) -> np.ndarray:
        return self.rows[i]


@pytest.mark.parametrize("exact_up_to, expected", [(32, 32), (4, 4), (12, 8), (1, 1)])
def test_probe_measures_costs_and_how_large_a_batch_stays_exact(exact_up_to, expected):
    model = LogitModel(exact_up_to)
    model.cells = {0: 5, 1: 6}
    cost = probe(model, 0, 2, [5, 6], key="k")
    assert sorted(cost.known) == list(verify_cost.PROBE_SIZES)
    assert all(s > 0 for s in cost.known.values())
    assert cost.exact == expected
    assert model.cells == {0: 5, 1: 6}          # everything probed was removed again
    assert cost.limit(2) == expected and cost.limit(LONG_FROM) is None   # that region, measured


def test_exactness_is_kept_per_region_and_a_draft_stops_short_of_one_not_exact():
    """llama.cpp takes another attention kernel for a lone token from position LONG_FROM on: the
    limit measured below it does not hold there, and a decode that would cross into a region
    measured inexact (or not measured) stops before it."""
    cost = VerifyCost({1: 0.01, 32: 0.01}, exact=32)
    assert cost.limit(10) == 32 and cost.limit(LONG_FROM - 5) == 5 and cost.limit(LONG_FROM) is None
    cost.record_exact(LONG_FROM + 40, 1)
    assert cost.limit(LONG_FROM - 5) == 5 and cost.limit(LONG_FROM + 100) == 1
    cost.record_exact(LONG_FROM, 16)           # measured exact there too (a BF16 V cache)
    assert cost.limit(LONG_FROM - 5) == 5 and cost.limit(600) == 16   # never across LONG_FROM
    assert not probe_region(LONG_FROM - 10) and probe_region(LONG_FROM - 32) and probe_region(LONG_FROM)
    model = LogitModel(8)
    model.cells = {i: 5 for i in range(LONG_FROM + 3)}
    long = probe(model, 0, LONG_FROM + 3, [5, 6])
    assert long.exact is None and long.exact_long == 8
    model.cells = {i: 5 for i in range(LONG_FROM - 10)}
    straddling = probe(model, 0, LONG_FROM - 10, [5, 6])   # times only: its exactness would mix regions
    assert straddling.exact is None and straddling.exact_long is None


def test_lookup_drafts_once_free_evidence_says_it_pays_and_stops_when_drafts_fail():
    stats = LookupStats()
    cost = VerifyCost({1: 0.0085, 2: 0.0155, 4: 0.0199, 8: 0.0269, 16: 0.0480})
    lookup = PromptLookup(max_draft=31, cost=cost, stats=stats)
    text = list(range(1, 60))
    lookup.extend(text + [1, 2])
    assert lookup.draft() == []                  # no evidence yet: plain decoding
    steps = 0
    while not lookup.draft():                    # the answer copies the text: each shadow
        lookup.extend([lookup.history[-1] + 1])  # proposal turns out right
        steps += 1
        assert steps < 12
    assert stats.p(4) > stats.PRIOR_KEPT / stats.PRIOR_SEEN   # learnt from shadows alone
    for _ in range(30):
        if not lookup.draft():
            break
        lookup.feedback(7, 0)                    # ... then every real draft is rejected
    assert lookup.draft() == []


def test_answers_are_unchanged_and_long_copies_take_few_decodes():
    prompt = list(range(1, 41)) + [1, 2, 3]
    rule = copy_rule(prompt)
    plain, _, _ = generate(rule, prompt, 36, None)
    spec_out, stats, model = generate_with_cost(rule, prompt, 36, flat())
    assert spec_out == plain
    assert stats.accepted >= 30
    assert len(model.batches) <= 4
    # On a machine where batching saves nothing, the same answer comes from one-token decodes.
    again, stats2, model2 = generate_with_cost(rule, prompt, 36, linear())
    assert again == plain and stats2.drafted == 0 and set(model2.batches) == {1}


def generate_with_cost(rule, prompt, n, cost):
    lookup = PromptLookup(max_draft=31, cost=cost)
    out, stats, model = generate(rule, prompt, n, lookup)
    return out, stats, model


def test_the_cache_round_trips_and_a_damaged_file_is_ignored():
    cost = VerifyCost({1: 0.01, 8: 0.03}, key="model-a|threads=2", exact=4)
    save(cost)
    back = cached("model-a|threads=2")
    assert back is not None and back.known == {1: 0.01, 8: 0.03} and back.exact == 4
    assert back.exact_long is None
    cost.record_exact(LONG_FROM, 1)
    save(cost)
    back = cached("model-a|threads=2")
    assert back is not None and (back.exact, back.exact_long) == (4, 1)
    assert cached("model-b|threads=2") is None
    path = get_settings().home / "calibration" / "verify-cost.json"
    path.write_text("{not json", encoding="utf-8")
    assert cached("model-a|threads=2") is None
    path.write_text(json.dumps({"version": 2, "entries": {"model-a|threads=2": {"1": "x"}}}), encoding="utf-8")
    assert cached("model-a|threads=2") is None
    for bad in ('{"exact": Infinity, "1": 0.01}', '{"exact": 4, "1": 0.01, "8": 1e999}'):
        doc = '{"version": ' + str(verify_cost.CACHE_VERSION) + ', "entries": {"k": ' + bad + "}}"
        path.write_text(doc, encoding="utf-8")
        assert cached("k") is None              # JSON's Infinity and overflowing numbers read as absent


def test_from_position_256_nothing_is_drafted_without_a_bf16_v_cache_whatever_was_measured():
    """A lone token's logits there depend on the thread count, so a measurement taken at one
    count (the governor may have dropped to 1 on a busy machine) proves nothing for the next."""
    from bakeoff.engines.spec_request import CostBook

    model = LogitModel(32)
    model.cells = {i: 5 for i in range(LONG_FROM + 3)}
    book = CostBook("k-long")
    assert book.limit(model, LONG_FROM + 3, [5, 6]) == 1      # a first probe there measured 32
    assert book.cost is not None and book.cost.exact_long == 1 and cached("k-long").exact_long == 1
    save(VerifyCost({1: 0.01}, key="k-cached", exact=32, exact_long=32))   # a cache saying otherwise
    assert CostBook("k-cached").limit(model, LONG_FROM + 3, [5, 6]) == 1
    assert CostBook("k-cached", exact_attention=True).limit(model, LONG_FROM + 3, [5, 6]) == 32


def test_speculator_feeds_decode_times_to_the_cost():
    cost = VerifyCost({1: 1.0, 32: 1.0})
    spec = Speculator(None, cost=cost)
    model = FakeModel(lambda t, p: t + 1)
    model.outputs = [7]
    spec.step(model, 0, 0, 7, lambda i: (model.outputs[i], True))
    assert cost.known[1] < 1.0                  # a real decode took far less than a second
