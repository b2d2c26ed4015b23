"""``archsearch dashboard`` and ``archsearch report``: a store in the browser, or on paper.

``archsearch dashboard`` serves a read-only web application over a store (127.0.0.1:8080
unless told otherwise); ``archsearch report NAME --out DIR`` writes one self-contained
HTML file with its PNG plots. Starlette and uvicorn (the ``dashboard`` extra) are
imported only by ``dashboard``.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from archsearch.errors import ConfigError, StoreError
from archsearch.store import DEFAULT_STORAGE, SqlStore, open_store

__all__ = ["add_dashboard_parser", "cmd_dashboard", "cmd_report", "open_sql_store"]


def add_dashboard_parser(sub: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Add ``dashboard`` and ``report`` to the ``archsearch`` subparsers.

    Args:
        sub: the subparsers of the ``archsearch`` parser.
        parents: parsers whose options both commands share (``--storage``).
    """
    dash = sub.add_parser("dashboard", parents=parents, help="a web dashboard over a store")
    dash.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
    dash.add_argument("--port", type=int, default=8080, help="port (8080)")
    report = sub.add_parser("report", parents=parents, help="an HTML report of one experiment")
    report.add_argument("name")
    report.add_argument("--out", default="report", metavar="DIR", help="folder (./report)")


def open_sql_store(url: str | None) -> SqlStore:
    """The SQL store at ``url`` (default as for ``archsearch run``), which must exist.

    Raises:
        StoreError: for ``memory://``, or an SQLite file that does not exist (reading
            must not create an empty database).
    """
    url = url or os.environ.get("ARCHSEARCH_STORAGE") or DEFAULT_STORAGE
    if url.startswith("sqlite:///") and not url.endswith(":memory:"):
        path = Path(url.removeprefix("sqlite:///").split("?")[0]).expanduser()
        if not path.is_file():
            raise StoreError(f"storage: no database at {path} (from {url!r})")
    store = open_store(url)
    if not isinstance(store, SqlStore):
        raise StoreError(
            f"storage: {url!r} keeps nothing to show; use sqlite:///FILE or postgresql://"
        )
    return store


def cmd_dashboard(args: argparse.Namespace) -> int:
    """Serve the dashboard until interrupted; returns the exit status.

    Raises:
        ArchsearchError: for a user error (the CLI prints it and exits 2).
    """
    if not 0 < args.port < 65536:
        raise ConfigError(f"--port: must be in 1..65535, got {args.port}")
    try:
        import uvicorn

        from archsearch.dashboard import create_app
    except ImportError as exc:
        raise ConfigError(
            f"dashboard: needs the dashboard extra ({exc.name} is missing); "
            "pip install 'archsearch[dashboard]'"
        ) from None
    store = open_sql_store(args.storage)
    print(f"archsearch dashboard over {store.url}: http://{args.host}:{args.port}/ (Ctrl-C stops)")
    try:
        uvicorn.run(create_app(store), host=args.host, port=args.port, log_level="warning")
    finally:
        store.close()
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """Write the report of experiment ``args.name``; returns the exit status.

    Raises:
        ArchsearchError: for a user error (the CLI prints it and exits 2).
    """
    from archsearch.dashboard import write_report

    store = open_sql_store(args.storage)
    try:
        page = write_report(store, args.name, args.out)
    finally:
        store.close()
    pngs = sorted(p.name for p in page.parent.glob(f"{page.stem}-*.png"))
    print(f"report: {page}")
    print(f"plots:  {', '.join(pngs) or 'none (no complete trials)'} in {page.parent}")
    return 0
