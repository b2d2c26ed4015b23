"""``archsearch bench build``: the sequence strategy, the table file, build and resume, replay."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from archsearch.bench import BenchTable, build_spec, build_table, sample_configs
from archsearch.cli import main
from archsearch.errors import ConfigError, DataError
from archsearch.evaluation import TableBenchmark
from archsearch.experiment import build_experiment, compare, normalize_spec
from archsearch.spaces import nb201_space
from archsearch.spaces.nb201 import to_arch_str
from archsearch.store import open_store
from archsearch.strategies import SequenceStrategy
from archsearch.trial import Result, TrialStatus

MODEL = {"channels": 4, "n_cells": 1}


@pytest.fixture(scope="module")
def fashion(fake_fashion: Callable[..., Path]) -> Path:
    """A small Fashion-MNIST stand-in (8x8 images, learnable labels) in the IDX format."""
    return fake_fashion(size=8, n_train=96, n_test=32, seed=0)


def _options(fashion: Path, tmp: Path) -> dict[str, Any]:
    return {
        "dataset": "fashion_mnist",
        "fidelities": [1, 2],
        "model": MODEL,
        "subset": 32,
        "device": "cpu",
        "data_path": str(fashion),
        "n_threads": 1,
        "n_valid": 32,
        "checkpoint_dir": str(tmp / "runs"),
    }


# -- the sequence strategy ----------------------------------------------------------------
def _configs(n: int) -> list[Any]:
    return sample_configs(nb201_space(), n, seed=3)


def test_sequence_climbs_each_configs_ladder_only_after_its_previous_step() -> None:
    strategy = SequenceStrategy(nb201_space(), configs=_configs(2), ladder=[1, 2, 4])
    a, b = strategy.ask(), strategy.ask()
    assert a is not None and b is not None
    assert (a.fidelity, b.fidelity) == (1.0, 1.0) and a.config != b.config
    assert strategy.ask() is None  # both configs wait for their first results
    strategy.tell(b, Result({"valid_accuracy": 10.0}))
    c = strategy.ask()
    assert c is not None and (c.config, c.fidelity) == (b.config, 2.0)
    strategy.tell(a, Result.failed("diverged"))  # a failed run is not trained further
    strategy.tell(c, Result({"valid_accuracy": 11.0}))
    d = strategy.ask()
    assert d is not None and (d.config, d.fidelity) == (b.config, 4.0)
    assert not strategy.is_finished
    strategy.tell(d, Result({"valid_accuracy": 12.0}))
    assert strategy.ask() is None and strategy.is_finished


def test_sequence_state_round_trips_mid_ladder() -> None:
    configs = _configs(3)
    first = SequenceStrategy(nb201_space(), configs=configs, ladder=[1, 2])
    x = first.ask()
    assert x is not None
    first.tell(x, Result({"valid_accuracy": 1.0}))
    pending = first.ask()
    state = json.loads(json.dumps(first.state_dict()))
    second = SequenceStrategy(nb201_space(), configs=configs, ladder=[1, 2])
    second.load_state_dict(state)
    for strategy in (first, second):
        assert pending is not None
        strategy.tell(pending, Result({"valid_accuracy": 2.0}))
    asked_first = [(c.config, c.fidelity) for c in iter(first.ask, None)]
    asked_second = [(c.config, c.fidelity) for c in iter(second.ask, None)]
    assert asked_first == asked_second and len(asked_first) == 2


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"configs": []}, "strategy.configs"),
        ({"configs": [{"edge_0_1": "conv"}]}, "strategy.configs[0]"),
        ({"configs": _configs(1), "ladder": [4, 1]}, "strategy.ladder"),
    ],
)
def test_sequence_rejects_bad_options_naming_the_field(options: Any, field: str) -> None:
    with pytest.raises(ConfigError, match=field.replace("[", r"\[")):
        SequenceStrategy(nb201_space(), **options)


# -- the table file -------------------------------------------------------------------------
def _table(n: int = 4) -> BenchTable:
    configs = _configs(n)
    rows = [
        (
            to_arch_str(c),
            c,
            {
                1.0: {"valid_accuracy": 10.0 + i, "test_accuracy": 9.0 + i, "train_time_s": 1.0},
                3.0: {
                    "valid_accuracy": 20.0 + 2 * i,
                    "test_accuracy": 19.0 + 3 * i,
                    "train_time_s": 3.0 + i,
                },
            },
            1000 + i,
        )
        for i, c in enumerate(configs)
    ]
    return BenchTable.from_rows(rows, [3, 1], {"space": "nb201", "dataset": "fashion_mnist"})


def test_table_round_trips_through_its_file(tmp_path: Path) -> None:
    table = _table()
    table.save(tmp_path / "t.npz")
    again = BenchTable.load(tmp_path / "t.npz")
    assert again.keys == table.keys and again.configs == table.configs
    assert again.fidelities == (1.0, 3.0)
    np.testing.assert_allclose(again.column("test_accuracy", 3), [19, 22, 25, 28])
    np.testing.assert_allclose(again.column("valid_accuracy"), [20, 22, 24, 26])  # highest
    with np.load(tmp_path / "t.npz") as data:  # NB201's column naming
        assert {"fashion_mnist/valid_1", "fashion_mnist/test_3", "fashion_mnist/time_3"} <= set(
            data.files
        )
    assert again.row(table.configs[2]) == 2 and again.row(table.keys[1]) == 1
    with pytest.raises(ConfigError, match="not in this table"):
        again.row(_configs(9)[-1])
    with pytest.raises(ConfigError, match="fidelity"):
        again.column("valid_accuracy", 2)


def test_a_missing_or_foreign_table_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="nope.npz"):
        BenchTable.load(tmp_path / "nope.npz")
    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    with pytest.raises(DataError, match="other.npz.*missing"):
        BenchTable.load(tmp_path / "other.npz")


def test_table_benchmark_replays_accuracy_cost_and_truth(tmp_path: Path) -> None:
    path = str(_table().save(tmp_path / "t.npz"))
    bench = TableBenchmark(path=path, fidelity=1)
    config = _configs(4)[3]
    low, high = bench.evaluate(config), bench.evaluate(config, 3)
    assert low.metrics["valid_accuracy"] == 13.0 and low.cost_s == 1.0
    assert high.metrics["valid_accuracy"] == 26.0 and high.cost_s == 6.0
    assert bench.truth(config) == {"final_accuracy": 28.0, "rank": 1.0}
    assert bench.resumable and bench.fidelities == (1.0, 3.0)


def test_compare_and_run_accept_a_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = str(_table().save(tmp_path / "t.npz"))
    result = compare(
        benchmark="table",
        dataset=None,
        strategies=["random", "rea"],
        runs=4,
        budget_s=40.0,
        jobs=1,
        benchmark_options={"path": path},
    )
    assert set(result["results"]) == {"random", "rea"}
    assert all(19.0 <= r["mean"] <= 28.0 for r in result["results"].values())
    config = tmp_path / "run.yaml"
    config.write_text(
        f"space: {{name: table, path: {path}}}\n"
        f"benchmark: {{name: table, path: {path}}}\nstrategy: random\nbudget: {{trials: 4}}\n"
    )
    assert main(["run", str(config), "--storage", f"sqlite:///{tmp_path / 'r.db'}"]) == 0
    assert "of 4" in capsys.readouterr().out  # ranked among the table's architectures


# -- building -----------------------------------------------------------------------------
def test_build_trains_each_config_once_per_fidelity_and_resumes(
    fashion: Path, tmp_path: Path
) -> None:
    options = _options(fashion, tmp_path)
    configs = sample_configs(nb201_space(), 3, seed=0)
    storage = f"sqlite:///{tmp_path / 'b.db'}"
    # an interrupted first run: stopped (as by Ctrl-C) after two trials had ended
    spec = build_spec(
        "nb201",
        configs=configs,
        dataset="fashion_mnist",
        fidelities=[1, 2],
        checkpoint_dir=options["checkpoint_dir"],
        model=MODEL,
        subset=32,
        device="cpu",
        data_path=str(fashion),
        n_threads=1,
        n_valid=32,
    )
    ended = []

    def stop_after_two(*_: Any) -> None:
        ended.append(1)
        if len(ended) == 2:
            raise KeyboardInterrupt

    store = open_store(storage)
    experiment = build_experiment(
        normalize_spec(spec), store=store, name="b", on_trial_end=stop_after_two
    )
    with pytest.raises(KeyboardInterrupt):
        experiment.run()
    table = build_table(
        "nb201", out=tmp_path / "t.npz", sample=3, storage=storage, name="b", **options
    )
    assert len(table) == 3 and table.fidelities == (1.0, 2.0)
    trials = store.trials(store.find_experiment("b").id)  # type: ignore[union-attr]
    done = [(to_arch_str(t.config), t.fidelity) for t in trials if t.state is TrialStatus.COMPLETE]
    assert sorted(done) == sorted({(to_arch_str(c), f) for c in configs for f in (1.0, 2.0)})
    times = table.columns["train_time_s"]
    assert np.all(times[:, 1] > times[:, 0])  # cumulative: the second epoch continued the first
    assert np.all((table.columns["test_accuracy"] >= 0) & (table.columns["test_accuracy"] <= 100))
    assert np.all(table.params > 0) and table.meta["model"] == MODEL
    # a second build finds everything done: same table, no new trial
    again = build_table(
        "nb201", out=tmp_path / "t2.npz", sample=3, storage=storage, name="b", **options
    )
    np.testing.assert_array_equal(again.columns["valid_accuracy"], table.columns["valid_accuracy"])
    assert len(store.trials(store.find_experiment("b").id)) == len(trials)  # type: ignore[union-attr]


def test_bench_build_cli_rejects_bad_fidelities(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "bench",
            "build",
            "nb201",
            "--dataset",
            "fashion_mnist",
            "--fidelities",
            "4,1",
            "--sample",
            "2",
            "--out",
            "/nonexistent-dir-x/t.npz",
        ]
    )
    assert code == 2
    assert "fidelities" in capsys.readouterr().err
