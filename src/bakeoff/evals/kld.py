"""KL divergence of a model's next-token distributions from a reference's, and top-1 agreement,
defined as llama.cpp's perplexity tool defines them with --kl-divergence:

- the text is tokenized once (with BOS) and cut into chunks of n_ctx tokens; the first token of
  every chunk is BOS when the model wants one;
- each chunk is evaluated from an empty cache, and only positions n_ctx/2 .. n_ctx-2 are scored
  (each then has at least n_ctx/2 tokens of context);
- per position, KLD = Σ_v p_ref(v) (log p_ref(v) − log p_q(v)) in nats, and "same top" is whether
  the two argmaxes agree; reported as mean ± standard error over positions (the tool's formula:
  sqrt((E[x²] − E[x]²) / (n − 1))), with the median and the 99th percentile, and
  ln(PPL(q) / PPL(ref)), the mean difference of the two models' negative log-likelihoods.

The reference's log-probabilities are computed once and cached on disk as float16 (the tool
stores them as 16-bit too), keyed by the reference file's SHA-256, the text and the context size.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ..atomic import write_text_atomic


class WindowModel(Protocol):
    """What KL divergence needs of an engine (`Engine` with `supports_window_logprobs`)."""

    @property
    def bos_token(self) -> int | None: ...

    def tokenize(self, text: str, add_special: bool = True) -> list[int]: ...
    def window_logprobs(self, tokens: list[int], first: int) -> Any: ...


@dataclass(frozen=True)
class KldStats:
    n: int                  # scored positions
    mean: float             # nats
    se: float
    median: float
    p99: float
    top1: float             # share of positions where the argmaxes agree
    top1_se: float
    ln_ppl_ratio: float     # mean of (NLL_q - NLL_ref) over positions
    ln_ppl_ratio_se: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def mean_se(total: float, total_sq: float, n: int) -> tuple[float, float]:
    """The perplexity tool's mean and standard error from running sums."""
    if n < 1:
        return 0.0, 0.0
    mean = total / n
    var = total_sq / n - mean * mean
    return mean, math.sqrt(var / (n - 1)) if var > 0 and n > 10 else 0.0


def chunks(tokens: list[int], n_ctx: int, max_chunks: int, bos: int | None) -> list[list[int]]:
    n = min(max_chunks, len(tokens) // n_ctx)
    out = []
    for i in range(n):
        chunk = list(tokens[i * n_ctx: (i + 1) * n_ctx])
        if bos is not None:
            chunk[0] = bos
        out.append(chunk)
    return out


def per_position(ref: np.ndarray, q: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, ...]:
    """KLD, same-top flags and NLL differences for aligned (positions, vocab) log-prob arrays."""
    p = np.exp(ref)
    kld = (p * (ref - q)).sum(axis=1)
    same = ref.argmax(axis=1) == q.argmax(axis=1)
    rows = np.arange(len(targets))
    nll_diff = ref[rows, targets] - q[rows, targets]
    return kld, same, nll_diff


def summarise(kld: np.ndarray, same: np.ndarray, nll_diff: np.ndarray) -> KldStats:
    n = int(kld.size)
    m, se = mean_se(float(kld.sum()), float((kld.astype(np.float64) ** 2).sum()), n)
    r, r_se = mean_se(float(nll_diff.sum()), float((nll_diff.astype(np.float64) ** 2).sum()), n)
    top1 = float(same.mean()) if n else 0.0
    top1_se = math.sqrt(top1 * (1 - top1) / (n - 1)) if n > 1 else 0.0
    return KldStats(n, m, se, float(np.median(kld)) if n else 0.0,
                    float(np.percentile(kld, 99)) if n else 0.0, top1, top1_se, r, r_se)


class ReferenceLogprobs:
    """The reference's log-probabilities at the scored positions of every chunk, cached on disk."""

    def __init__(self, folder: Path, key: str):
        self.data_path = folder / f"{key}.f16"
        self.meta_path = folder / f"{key}.json"

    @staticmethod
    def key(ref_sha: str, text: str, n_ctx: int, max_chunks: int) -> str:
        blob = json.dumps([ref_sha, hashlib.sha256(text.encode()).hexdigest(), n_ctx, max_chunks])
        return hashlib.sha256(blob.encode()).hexdigest()[:24]

    def load(self) -> tuple[list[list[int]], np.ndarray] | None:
        if not (self.meta_path.is_file() and self.data_path.is_file()):
            return None
        meta = json.loads(self.meta_path.read_text())
        shape = tuple(meta["shape"])
        return meta["chunks"], np.memmap(self.data_path, dtype=np.float16, mode="r", shape=shape)

    def build(self, model: WindowModel, text: str, n_ctx: int, max_chunks: int) -> tuple[list[list[int]], np.ndarray]:
        cached = self.load()
        if cached is not None:
            return cached
        parts = chunks(model.tokenize(text, add_special=True), n_ctx, max_chunks, model.bos_token)
        if not parts:
            from ..errors import InvalidParamsError

            raise InvalidParamsError(f"the text sample is shorter than one chunk of {n_ctx} tokens",
                                     param="text", hint="give a longer text or a smaller --kld-ctx")
        first = n_ctx // 2
        self.data_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.data_path.with_name(self.data_path.name + ".partial")
        rows: np.memmap | None = None
        for i, chunk in enumerate(parts):
            lp = model.window_logprobs(chunk, first)
            if rows is None:
                rows = np.memmap(tmp, dtype=np.float16, mode="w+", shape=(len(parts), *lp.shape))
            rows[i] = lp.astype(np.float16)
        assert rows is not None
        rows.flush()
        shape = rows.shape
        del rows
        tmp.replace(self.data_path)
        write_text_atomic(self.meta_path, json.dumps({"shape": list(shape), "chunks": parts, "n_ctx": n_ctx}))
        return self.load()  # type: ignore[return-value]


def kld_against(model: WindowModel, parts: list[list[int]], ref: np.ndarray) -> KldStats:
    """Evaluate the same chunks with `model` and compare with the reference's log-probabilities."""
    klds, sames, diffs = [], [], []
    for i, chunk in enumerate(parts):
        first = len(chunk) // 2
        q = model.window_logprobs(chunk, first)
        r = np.asarray(ref[i], dtype=np.float32)
        targets = np.asarray(chunk[first + 1:], dtype=np.int64)
        k, s, d = per_position(r, q, targets)
        klds.append(k)
        sames.append(s)
        diffs.append(d)
    return summarise(np.concatenate(klds), np.concatenate(sames), np.concatenate(diffs))
