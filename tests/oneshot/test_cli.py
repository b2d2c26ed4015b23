"""``archsearch oneshot`` end to end on real Fashion-MNIST."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from archsearch.bench import BenchTable
from archsearch.cli import main
from archsearch.spaces.nb201 import nb201_space, to_arch_str
from archsearch.store import open_store

CONV = "nor_conv_3x3"


def test_oneshot_command_searches_and_stores(
    capsys: pytest.CaptureFixture[str], tmp_path: object
) -> None:
    url = f"sqlite:///{tmp_path}/os.db"
    argv = ["oneshot", "gdas", "--subset", "32", "--epochs", "1", "--batch-size", "16"]
    argv += ["--channels", "4", "--n-cells", "1", "--eval-images", "32", "--device", "cpu"]
    assert main([*argv, "--storage", url, "--name", "g"]) == 0
    out = capsys.readouterr().out
    assert "chosen: |" in out
    record = open_store(url).find_experiment("g")
    assert record is not None and record.status == "complete"


def test_oneshot_command_refuses_an_unknown_method(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["oneshot", "bogus"])
    assert "invalid choice: 'bogus'" in capsys.readouterr().err


def test_oneshot_command_ranks_a_truth_table_and_writes_scores(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    rng = random.Random(0)
    cells = [nb201_space().sample(rng) for _ in range(6)]
    # plumbing only: the "truth" here is the number of 3x3 convs, not a trained accuracy
    rows = [
        (to_arch_str(c), c, {1.0: {"valid_accuracy": float(list(c.values()).count(CONV))}}, 0)
        for c in cells
    ]
    table = BenchTable.from_rows(rows, [1.0], {"space": "nb201", "dataset": "fashion_mnist"})
    table_path = table.save(tmp_path / "t.npz")
    argv = ["oneshot", "rsps", "--subset", "32", "--epochs", "1", "--batch-size", "16"]
    argv += ["--channels", "4", "--n-cells", "1", "--eval-images", "32", "--device", "cpu"]
    argv += ["--storage", "memory://", "--truth", str(table_path)]
    assert main([*argv, "--scores-out", str(tmp_path / "s.json")]) == 0
    assert "supernet ranking of 6 cells" in capsys.readouterr().out
    scores = json.loads((tmp_path / "s.json").read_text())
    assert sorted(scores) == sorted(table.arch_strs)
