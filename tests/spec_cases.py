"""Requests the speculative-decoding tests share: starter cases where drafts hit and where they
rarely do, and a prompt whose answer copies it."""

from bakeoff.engines.base import Message

# Extraction and rewriting (drafts hit), and one case from other categories (drafts rarely do).
CASES = ["extract-person-json", "extract-email", "extract-name", "rewrite-spelling",
         "rewrite-polite", "rewrite-expand-nasa", "fact-capital-france", "math-word-problem",
         "format-bullet-list"]
COPY = [Message(role="user", content=(
    "Repeat this text exactly: The quick brown fox jumps over the lazy dog. Bakeoff runs open "
    "models on your own cases and reports which one answers best."))]
