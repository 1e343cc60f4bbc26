"""SQLite store: runs, results, conversations, votes, logs."""

from .db import connect, transaction

__all__ = ["connect", "transaction"]
