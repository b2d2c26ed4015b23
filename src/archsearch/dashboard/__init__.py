"""The web dashboard over a store and the shareable HTML report.

``create_app(store)`` is a read-only Starlette application (pages and a JSON API);
``write_report(store, name, out)`` writes one self-contained HTML file and its PNG
plots. Starlette is imported only when the dashboard is used (the ``dashboard`` extra).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from archsearch.dashboard._arch import arch_graph
from archsearch.dashboard._report import write_report

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from archsearch.store import SqlStore

__all__ = ["arch_graph", "create_app", "write_report"]


def create_app(store: SqlStore) -> Starlette:
    """The dashboard application over ``store``; see :mod:`archsearch.dashboard._app`."""
    from archsearch.dashboard._app import create_app as build

    return build(store)
