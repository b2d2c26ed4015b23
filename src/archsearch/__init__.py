"""archsearch: neural architecture search and hyperparameter optimisation.

The public entry points are importable from here: :func:`search` (search your own
objective), :class:`Trial`, :class:`TrialPruned`, :func:`load`, :func:`trace_space`,
and the space language (:class:`Space`, :class:`Choice`, :class:`Int`, :class:`Real`,
:func:`when`, :func:`symbolic`, :func:`materialize`). They are imported on first use,
so that ``import archsearch`` stays instant.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_PUBLIC = {
    "search": "archsearch.api",
    "load": "archsearch.api",
    "trace_space": "archsearch.api",
    "Trial": "archsearch.api",
    "TrialPruned": "archsearch.api",
    "SearchResult": "archsearch.api",
    "PercentilePruner": "archsearch.api",
    "Space": "archsearch.space",
    "Choice": "archsearch.space",
    "Int": "archsearch.space",
    "Real": "archsearch.space",
    "when": "archsearch.space",
    "symbolic": "archsearch.space",
    "materialize": "archsearch.space",
}

__all__ = ["__version__", *_PUBLIC]


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'archsearch' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
