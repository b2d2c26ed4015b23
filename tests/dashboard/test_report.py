"""``archsearch report``: one HTML file with its plots embedded, opened offline."""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Any

import pytest

from archsearch.cli import main
from archsearch.store import SqlStore

PNG = b"\x89PNG\r\n\x1a\n"


def test_report_of_an_nb201_experiment(
    store_url: str, store: SqlStore, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "report"
    assert main(["report", "nb201-rea", "--storage", store_url, "--out", str(out)]) == 0
    assert f"report: {out / 'nb201-rea.html'}" in capsys.readouterr().out
    pngs = {p.name: p.read_bytes() for p in out.glob("*.png")}
    names = ("best_so_far", "pareto", "scores", "best_arch")
    assert set(pngs) == {f"nb201-rea-{n}.png" for n in names}
    assert all(data.startswith(PNG) and len(data) > 5000 for data in pngs.values())
    page = (out / "nb201-rea.html").read_text()
    embedded = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert sorted(base64.b64decode(e) for e in embedded) == sorted(pngs.values())
    assert "http://" not in page and "https://" not in page  # nothing to fetch
    record = store.find_experiment("nb201-rea")
    assert record is not None
    assert record.summary["best"]["arch"] in page
    assert "Choice rules" in page and "Failed trials" not in page


def test_report_lists_failures(store_url: str, tmp_path: Path) -> None:
    assert main(["report", "nb201-faulty", "--storage", store_url, "--out", str(tmp_path)]) == 0
    page = (tmp_path / "nb201-faulty.html").read_text()
    assert "Failed trials (" in page and "injected fault" in page


def test_report_opens_offline_in_a_browser(browser: Any, store_url: str, tmp_path: Path) -> None:
    assert main(["report", "darts-random", "--storage", store_url, "--out", str(tmp_path)]) == 0
    context = browser.new_context(offline=True)
    page = context.new_page()
    page.goto((tmp_path / "darts-random.html").as_uri())
    widths = page.eval_on_selector_all("img", "imgs => imgs.map(i => i.naturalWidth)")
    context.close()
    assert len(widths) == 4 and all(w > 300 for w in widths)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["report", "nope"], "no experiment 'nope'"),
        (["report", "nb201-rea", "--storage", "memory://"], "keeps nothing to show"),
        (["dashboard", "--storage", "sqlite:////no/such/file.db"], "no database at /no/such"),
        (["dashboard", "--port", "70000"], "--port: must be in 1..65535"),
    ],
)
def test_cli_errors_name_the_field(
    argv: list[str], message: str, store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    if "--storage" not in argv:
        argv = [*argv, "--storage", store_url]
    assert main(argv) == 2
    assert message in capsys.readouterr().err
