"""``archsearch diagnose``: table columns, shipped SynFlow, score files, costs, errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from archsearch.analysis import diagnose
from archsearch.cli import main
from archsearch.cli_diagnose import estimator_scores, nb201_costs
from archsearch.evaluation import CostEvaluator, load_nb201_table
from archsearch.spaces.nb201 import cell_from_index, to_arch_str


def _valid_12() -> np.ndarray:
    table = load_nb201_table()
    return np.asarray(table["cifar10/valid_12"][table["index_of_cell"]], dtype=np.float64)


def test_valid_12_is_diagnosed(capsys: Any, tmp_path: Path) -> None:
    out_json = tmp_path / "d.json"
    assert main(["diagnose", "valid_12", "--bootstrap", "10", "--json", str(out_json)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("valid_12 as an estimator of NB201 cifar10 acc_200, 15,625 cells")
    assert "Kendall tau        0.633" in out and "Spearman rho       0.810" in out
    record = json.loads(out_json.read_text())
    assert record["estimator"] == "valid_12" and record["n"] == 15625
    assert record["verdict"] in out


def test_shipped_synflow_is_diagnosed(capsys: Any) -> None:
    assert main(["diagnose", "synflow", "--bootstrap", "10"]) == 0
    out = capsys.readouterr().out
    assert "Spearman rho       0.734" in out  # the benchmark's figure, from the shipped file
    assert "safe for pruning the bottom half" in out and "not for picking the best" in out


def test_sample_and_other_dataset(capsys: Any) -> None:
    args = ["diagnose", "test_12", "--dataset", "cifar100", "--sample", "300", "--bootstrap", "5"]
    assert main(args) == 0
    assert "NB201 cifar100 acc_200, 300 cells (seeded sample)" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["diagnose", "bogus"],
            "estimator: unknown 'bogus'; allowed: flops, params, synflow, file:PATH, acc_200",
        ),
        (["diagnose", "valid_12", "--truth", "acc_300"], "--truth: unknown 'acc_300'"),
        (["diagnose", "synflow", "--dataset", "mnist"], "--dataset: unknown 'mnist'"),
        (["diagnose", "synflow", "--benchmark", "nb301"], "--benchmark: diagnose knows nb201"),
        (["diagnose", "file:/nonexistent.npz"], "/nonexistent.npz: score file not found"),
    ],
)
def test_user_errors_are_one_line_exit_2(argv: list[str], message: str, capsys: Any) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("archsearch: error: ") and message in err


def test_score_files_json_and_npz_agree(tmp_path: Path) -> None:
    table = load_nb201_table()
    valid = _valid_12()
    cells = np.random.default_rng(0).choice(15625, 400, replace=False)
    as_json = {to_arch_str(cell_from_index(int(i))): float(valid[i]) for i in cells}
    (tmp_path / "s.json").write_text(json.dumps(as_json))
    official = table["index_of_cell"][cells]  # the npz names cells by their official index
    np.savez(tmp_path / "s.npz", nb201_index=official, score=valid[cells])
    records = [{"index": int(i), "score": float(valid[i])} for i in cells]
    (tmp_path / "r.json").write_text(json.dumps(records))
    for name in ("s.json", "s.npz", "r.json"):
        got_cells, scores, _ = estimator_scores(f"file:{tmp_path / name}", "cifar10")
        assert sorted(got_cells.tolist()) == sorted(cells.tolist())
        assert np.array_equal(scores, valid[got_cells])


def test_bad_score_file_names_the_file(tmp_path: Path, capsys: Any) -> None:
    path = tmp_path / "dup.json"
    path.write_text(json.dumps([{"index": 3, "score": 1.0}, {"index": 3, "score": 2.0}]))
    assert main(["diagnose", f"file:{path}"]) == 2
    assert f"{path}: cell index 3 has several scores" in capsys.readouterr().err
    path.write_text(json.dumps({"|bogus~0|": 1.0}))
    assert main(["diagnose", f"file:{path}"]) == 2
    assert f"{path}: bad arch '|bogus~0|'" in capsys.readouterr().err


def test_costs_add_up_over_edges() -> None:
    import torch

    params, flops = nb201_costs("cifar10")
    evaluator = CostEvaluator(space="nb201")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for i in (0, 1234, 9876, 15624):
            metrics = evaluator.evaluate(cell_from_index(i)).metrics
            assert params[i] == round(metrics["params_m"] * 1e6)
            assert flops[i] == round(metrics["flops_m"] * 1e6)
    finally:
        torch.set_num_threads(threads)
    acc = load_nb201_table()["cifar10/acc_200"][load_nb201_table()["index_of_cell"]]
    assert diagnose(params, acc, n_boot=0).spearman > 0.5  # bigger cells tend to win
