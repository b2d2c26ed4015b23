"""Stores: where every experiment and trial lives (SQLite by default, PostgreSQL by URL)."""

from __future__ import annotations

import os

from archsearch.store._base import ExperimentRecord, Store, TrialRecord
from archsearch.store._memory import MemoryStore
from archsearch.store._sql import SqlStore

__all__ = [
    "DEFAULT_STORAGE",
    "ExperimentRecord",
    "MemoryStore",
    "SqlStore",
    "Store",
    "TrialRecord",
    "open_store",
]

#: used when neither ``--storage`` nor ``ARCHSEARCH_STORAGE`` says otherwise
DEFAULT_STORAGE = "sqlite:///archsearch.db"


def open_store(url: str | None = None) -> Store:
    """Open the store at ``url``; ``memory://`` keeps everything in memory.

    Without a URL, ``$ARCHSEARCH_STORAGE`` is used, then :data:`DEFAULT_STORAGE`
    (``archsearch.db`` in the current folder).
    """
    url = url or os.environ.get("ARCHSEARCH_STORAGE") or DEFAULT_STORAGE
    if url == "memory://":
        return MemoryStore()
    return SqlStore(url)
