"""How much a continuous-batching step drafts (engines/scheduler.py): the bound within which
verification stays exact, when a draft pays for its place in a full batch, and draft lengths that
suit llama.cpp's sub-batching of a KV cache split into one stream per sequence."""

from __future__ import annotations

# The most tokens a step with drafts decodes (all sequences' next tokens and drafts together).
# Measured with benchmarks/batch_exactness.py on SmolLM2-135M Q4_1, CPU, 2 threads, 8 sequences,
# 40 greedy steps each (n = 328 logit vectors per setting): with a KV cache split into one stream
# per sequence, every token's logits in decodes mixing the 8 sequences with 1..32 tokens each (up
# to 102 tokens a decode) and in one 8-prompt prefill were bit-identical to decoding the token alone
# in a one-sequence context. With one shared pool of cells they were not, even at one token per
# sequence (328/328 differ, max |diff| 1.4; 192/192 against the same context's own one-sequence
# decoding): there a token's logits depend on the other sequences, so drafts run only with a split
# cache or a single sequence (speculative_layout). The bound stays at the 32 tokens measured for
# one sequence (engines/speculative.py), well inside what was seen.
MAX_DRAFT_BATCH = 32

# A decode's fixed cost in units of the cost of one more token in it. With n sequences generating,
# a draft pays only when the share of its tokens kept exceeds n / (n + DECODE_FIXED_TOKENS): one
# sequence alone gets an extra token almost free, a full batch on a CPU pays nearly a token's
# compute for each. From llama-batched-bench on SmolLM2-135M, 2 threads: 88 tok/s for one
# sequence (11.4 ms a step), 230 tok/s for 8 (34.8 ms): 3.3 ms a token, 8.1 ms fixed.
DECODE_FIXED_TOKENS = 2.4


def speculative_layout(kv_unified: bool, n_seq_max: int) -> bool:
    """Whether a KV cache layout keeps verification exact (see MAX_DRAFT_BATCH)."""
    return not kv_unified or n_seq_max == 1


def fit_drafts(drafts: list[list[int]], budget: int, *, even: bool) -> list[list[int]]:
    """The drafts cut to `budget` tokens in all. `even` (a KV cache with one stream per sequence,
    where llama.cpp splits a decode into sub-batches holding equally many tokens of each sequence)
    gives every kept draft one length L, so the step costs two sub-batches (each sequence's next
    token, then L tokens of each drafting one), with L the length that verifies the most tokens."""
    if not even:
        out = []
        for d in drafts:
            out.append(d[:max(budget, 0)])
            budget -= len(out[-1])
        return out
    best, length = 0, 0
    for n in sorted({len(d) for d in drafts if d}):
        verified = n * min(sum(len(d) >= n for d in drafts), budget // n)
        if verified > best:
            best, length = verified, n
    keep = best // length if length else 0
    out = []
    for d in drafts:
        take = keep > 0 and len(d) >= length
        keep -= take
        out.append(d[:length] if take else [])
    return out
