"""Fixtures for the dashboard tests: a store of real experiments, a live server, a browser.

The store holds four experiments run through the project's own Experiment API:
REA on NAS-Bench-201 (CIFAR-10 table, simulated time), random search on NB201 cells
with the synthetic evaluator injecting failures, random search on NAS-Bench-301
(DARTS cells, YAHPO surrogate), and a short REA run left marked running, to which the
live tests add trials.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from archsearch.experiment import build_experiment, normalize_spec
from archsearch.store import SqlStore

uvicorn = pytest.importorskip("uvicorn", reason="the dashboard extra is not installed")

SPECS: dict[str, dict[str, Any]] = {
    "nb201-rea": {},  # the embedded default: REA on NB201 CIFAR-10, 20,000 simulated s
    "nb201-faulty": {
        "space": "nb201",
        "benchmark": {"name": "synthetic", "error_rate": 0.1, "nan_rate": 0.05},
        "strategy": "random",
        "budget": {"trials": 200},
        "executor": "inline",
    },
    "darts-random": {
        "space": "nb301",
        "benchmark": "nb301",
        "strategy": "random",
        "budget": {"trials": 30},
    },
    "nb201-live": {"budget": {"trials": 20}, "seed": 1},
}


@pytest.fixture(scope="session")
def store_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """An SQLite store holding :data:`SPECS`, run for real; nb201-live left running."""
    path = Path(tmp_path_factory.mktemp("dashboard")) / "store.db"
    url = f"sqlite:///{path}"
    store = SqlStore(url)
    for name, spec in SPECS.items():
        build_experiment(normalize_spec(spec), store=store, name=name).run()
    live = store.find_experiment("nb201-live")
    assert live is not None
    store.update_experiment(live.id, status="running")
    store.close()
    return url


@pytest.fixture(scope="session")
def store(store_url: str) -> Iterator[SqlStore]:
    """The test store, opened once."""
    opened = SqlStore(store_url)
    yield opened
    opened.close()


@pytest.fixture(scope="session")
def server(store: SqlStore) -> Iterator[str]:
    """The dashboard served by uvicorn on a free port of 127.0.0.1; yields its base URL."""
    from archsearch.dashboard import create_app

    config = uvicorn.Config(create_app(store), host="127.0.0.1", port=0, log_level="warning")
    served = uvicorn.Server(config)
    thread = threading.Thread(target=served.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not served.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the dashboard server did not start")
        time.sleep(0.02)
    port = served.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    served.should_exit = True
    thread.join(timeout=10)


CHROMIUM = os.environ.get("ARCHSEARCH_CHROMIUM", "/usr/bin/chromium")


def _missing() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[dev]')"
    if not Path(CHROMIUM).is_file():
        return f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Chromium, headless, launched by path; skips (fails under CI=true) when missing."""
    reason = _missing()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"browser tests cannot run under CI: {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        # --no-sandbox: CI runs as root, where Chromium refuses its sandbox
        launched = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()
