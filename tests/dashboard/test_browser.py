"""The dashboard in a real browser: Playwright driving Debian's Chromium (/usr/bin/chromium).

Playwright never downloads a browser here: it launches the system's Chromium by path
(``ARCHSEARCH_CHROMIUM`` overrides it). Without Chromium or Playwright the tests skip
with the reason, and under ``CI=true`` they fail instead. Screenshots of each page go to
pytest's temporary folder, and also to the folder named by ``ARCHSEARCH_SCREENSHOTS``
(``docs/screenshots`` for the committed ones).
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from archsearch.store import SqlStore
from archsearch.trial import Result


@pytest.fixture
def page(browser: Any, tmp_path: Path) -> Iterator[Any]:
    """A fresh page; JavaScript errors fail the test."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda exc: errors.append(str(exc)))
    opened.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    yield opened
    context.close()
    assert not errors, errors


def visit(page: Any, url: str) -> None:
    page.goto(url)
    page.wait_for_function("document.body.dataset.ready !== undefined")
    assert page.evaluate("document.body.dataset.ready") == "1", page.inner_text("main")


def screenshot(page: Any, tmp_path: Path, name: str) -> Path:
    path = tmp_path / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000  # a drawn page, not a blank one
    folder = os.environ.get("ARCHSEARCH_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(folder) / path.name)
    return path


def test_experiments_list(page: Any, server: str, tmp_path: Path) -> None:
    visit(page, server + "/")
    rows = page.locator("#experiments-table tbody tr")
    assert rows.count() == 4
    text = page.inner_text("#experiments-table")
    assert "nb201-rea" in text and "darts-random" in text and "84.68" in text
    screenshot(page, tmp_path, "experiments")


def test_experiment_page(page: Any, server: str, store: SqlStore, tmp_path: Path) -> None:
    record = store.find_experiment("nb201-rea")
    assert record is not None
    best = record.summary["best"]
    visit(page, server + "/experiments/nb201-rea")
    assert "nb201 · rea" in page.inner_text("#summary")
    assert page.inner_text("#best-link") == f"trial {best['number']}"
    page.wait_for_selector("#best-plot path.line")
    assert page.locator("#hist-plot rect.bar").count() == 30
    assert page.locator("#scatter-plot circle.pt-front").count() > 3
    assert page.locator("#decisions .decision").count() == 6
    assert "edge_" in page.inner_text("#rules")
    assert page.locator("#trials-table tbody tr").count() == 25
    assert re.search(r"1–25 of \d+", page.inner_text("#pager"))
    screenshot(page, tmp_path, "experiment")
    page.click("th[data-sort=score]")  # highest score first
    page.wait_for_function("document.querySelector('th.sorted')?.dataset.sort === 'score'")
    first = page.locator("#trials-table tbody tr").first.locator("td")
    assert first.nth(0).inner_text() == str(best["number"])
    page.click("#next")
    page.wait_for_function("document.getElementById('pager').textContent.startsWith('26')")
    page.select_option("#scatter-y", "test_accuracy")
    page.wait_for_function(
        "document.querySelector('#scatter-plot').textContent.includes('test_accuracy')"
    )


def test_failed_trials_are_listed_with_errors(page: Any, server: str, tmp_path: Path) -> None:
    visit(page, server + "/experiments/nb201-faulty")
    page.wait_for_selector("#failed-table")
    assert "injected fault" in page.inner_text("#failed-table")
    page.select_option("#filter-state", "failed")
    page.wait_for_function(
        "[...document.querySelectorAll('#trials-table tbody td:nth-child(2)')]"
        ".every(td => td.textContent === 'failed')"
    )
    screenshot(page, tmp_path, "experiment-failures")


def test_trial_page_draws_the_nb201_cell(
    page: Any, server: str, store: SqlStore, tmp_path: Path
) -> None:
    record = store.find_experiment("nb201-rea")
    assert record is not None
    number = record.summary["best"]["number"]
    visit(page, f"{server}/experiments/nb201-rea/trials/{number}")
    assert record.summary["best"]["arch"] in page.inner_text("#trial-summary")
    assert page.locator("#arch svg.graph path.edge").count() == 6
    labels = page.locator("#arch svg.graph text.op").all_text_contents()
    best = store.best_trial(record.id)
    assert best is not None
    assert sorted(labels) == sorted(best.config.values())
    assert "valid_accuracy" in page.inner_text("#trial-metrics")
    assert page.locator("#curve-plot circle").count() == 2  # the 12- and 200-epoch values
    assert "edge_0_1" in page.inner_text("#trial-config")
    screenshot(page, tmp_path, "trial-nb201")


def test_trial_page_draws_darts_cells(page: Any, server: str, tmp_path: Path) -> None:
    visit(page, f"{server}/experiments/darts-random/trials/0")
    assert page.locator("#arch svg.graph").count() == 2
    assert page.locator("#arch svg[data-cell=reduce] text.op").count() == 8
    screenshot(page, tmp_path, "trial-darts")


def test_compare_page(page: Any, server: str, tmp_path: Path) -> None:
    visit(page, server + "/")
    page.check("input[data-name=nb201-rea]")
    page.check("input[data-name=nb201-live]")
    page.click("#compare-button")
    page.wait_for_selector("#compare-table")
    assert page.locator("#compare-plot path.line").count() == 2
    assert "nb201-live" in page.inner_text("#compare-table")
    screenshot(page, tmp_path, "compare")


def test_running_experiment_updates_without_reload(
    page: Any, server: str, store: SqlStore, tmp_path: Path
) -> None:
    record = store.find_experiment("nb201-live")
    assert record is not None
    visit(page, server + "/experiments/nb201-live")
    assert page.inner_text("#live") == "● live"
    before = page.inner_text("#pager")
    page.evaluate("window.__same_page = true")
    best = store.best_trial(record.id)
    assert best is not None
    number = 1000
    store.start_trial(record.id, number, best.config, None, 9e9, time.time())
    better = best.score + 1.0
    result = Result({"valid_accuracy": better, "test_accuracy": 90.0}, 100.0, score=better)
    store.finish_trial(record.id, number, result, 9e9 + 100, time.time(), None)
    page.wait_for_function(
        f"document.getElementById('pager').textContent !== {before!r}", timeout=15_000
    )
    assert page.evaluate("window.__same_page") is True  # updated in place, not reloaded
    assert page.inner_text("#best-link") == f"trial {number}"
    screenshot(page, tmp_path, "experiment-live")
