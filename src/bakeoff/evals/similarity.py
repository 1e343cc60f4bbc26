"""Text similarity to a reference: ROUGE-L F1 over words, and normalised Levenshtein."""

from __future__ import annotations

import re

from rapidfuzz.distance import LCSseq, Levenshtein

_WORD = re.compile(r"\w+", re.UNICODE)


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def rouge_l(candidate: str, reference: str) -> float:
    """ROUGE-L F1 (Lin 2004, beta=1): longest common word subsequence vs both lengths."""
    cand, ref = words(candidate), words(reference)
    if not cand or not ref:
        return 1.0 if cand == ref else 0.0
    lcs = LCSseq.similarity(cand, ref)
    if lcs == 0:
        return 0.0
    precision, recall = lcs / len(cand), lcs / len(ref)
    return 2 * precision * recall / (precision + recall)


def levenshtein_ratio(candidate: str, reference: str) -> float:
    """1 - edit distance / longer length, on the stripped, case-folded strings."""
    return Levenshtein.normalized_similarity(candidate.strip().lower(), reference.strip().lower())
