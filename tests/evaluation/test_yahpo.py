"""YAHPO surrogate benchmarks (LCBench, NB301) and their spaces."""

from __future__ import annotations

import copy
import math
import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest

from archsearch.errors import ConfigError, DataError
from archsearch.evaluation._onnx import load_session
from archsearch.evaluation._yahpo import (
    NB301,
    SurrogateBenchmark,
    lcbench_benchmark,
    nb301_benchmark,
)
from archsearch.registry import BENCHMARKS, SPACES
from archsearch.space import Int, Real
from archsearch.spaces._configspace import yahpo_dir
from archsearch.spaces.lcbench import lcbench_space
from archsearch.spaces.nb301 import PREFIX, from_yahpo, nb301_space, to_yahpo

LCBENCH_METRICS = {
    "runtime_s",
    "valid_accuracy",
    "valid_cross_entropy",
    "valid_balanced_accuracy",
    "test_cross_entropy",
    "test_balanced_accuracy",
}
# the defaults of the shipped config spaces
LCBENCH_DEFAULT = {
    "batch_size": 91,
    "learning_rate": 0.0031622777,
    "max_dropout": 0.5,
    "max_units": 256,
    "momentum": 0.545,
    "num_layers": 3,
    "weight_decay": 0.050005,
}
_CELL_DEFAULT = {
    "edge_0": "max_pool_3x3",
    "edge_1": "max_pool_3x3",
    **{
        f"node_{n}": {
            "inputs": "0_1",
            f"edge_{a}": "max_pool_3x3",
            f"edge_{a + 1}": "max_pool_3x3",
        }
        for n, a in ((3, 2), (4, 5), (5, 9))
    },
}
NB301_DEFAULT = {"normal": _CELL_DEFAULT, "reduce": copy.deepcopy(_CELL_DEFAULT)}


@pytest.fixture(scope="module")
def lcbench() -> SurrogateBenchmark:
    return lcbench_benchmark(task="3945")


@pytest.fixture(scope="module")
def nb301() -> SurrogateBenchmark:
    return nb301_benchmark()


# -- spaces --------------------------------------------------------------------------
def test_lcbench_space_follows_the_config_space() -> None:
    space = lcbench_space()
    nodes = space.root.items  # type: ignore[attr-defined]
    assert set(nodes) == set(LCBENCH_DEFAULT)  # no epoch, no task
    log = {name for name, node in nodes.items() if node.log}
    assert log == {"batch_size", "learning_rate", "max_units"}
    assert isinstance(nodes["num_layers"], Int) and isinstance(nodes["momentum"], Real)
    assert (nodes["batch_size"].low, nodes["batch_size"].high) == (16, 512)
    assert isinstance(SPACES["lcbench"](), type(space))


def test_nb301_space_writes_conditions_as_branches() -> None:
    space = nb301_space()
    per_cell = 7**2 * (3 * 7**2) * (6 * 7**2) * (10 * 7**2)  # inputs x two ops per node
    assert space.size == per_cell**2
    config = space.sample(seed=0)
    assert space.n_decisions(config) == 22  # per cell: 2 edges + 3 x (inputs + 2 edges)
    flat = to_yahpo(config)
    assert len(flat) == 22 and all(name.startswith(PREFIX) for name in flat)
    assert from_yahpo(flat) == config
    assert space.validate(NB301_DEFAULT) == NB301_DEFAULT
    assert SPACES["nb301"]().size == space.size


def test_nb301_config_errors_name_the_path(nb301: SurrogateBenchmark) -> None:
    bad = copy.deepcopy(NB301_DEFAULT)
    bad["normal"]["node_3"]["inputs"] = "0_2"  # edge_3 is inactive then, edge_4 missing
    with pytest.raises(ConfigError, match=r"normal\.node_3\.edge_4: missing"):
        nb301.evaluate(bad)
    bad = copy.deepcopy(NB301_DEFAULT)
    bad["reduce"]["edge_1"] = "conv_7x7"
    with pytest.raises(ConfigError, match=r"reduce\.edge_1: unknown op 'conv_7x7'"):
        nb301.evaluate(bad)


# -- encoding ------------------------------------------------------------------------
def test_nb301_encoding_of_the_default_config() -> None:
    x_cat, x_cont = nb301_benchmark().encode(NB301_DEFAULT, 98)
    # codes: max_pool_3x3 = 4, inactive = #na# = 0, inputs "0_1" = 1
    cell = [4, 4, 4, 4, 0, 4, 4, 0, 0, 4, 4, 0, 0, 0]
    assert x_cat.dtype == np.int32 and x_cat.tolist() == cell + cell + [1] * 6
    assert x_cont.dtype == np.float32 and x_cont.tolist() == [98.0]


def test_lcbench_encoding_passes_raw_values(lcbench: SurrogateBenchmark) -> None:
    x_cat, x_cont = lcbench.encode(LCBENCH_DEFAULT, 7)
    assert x_cat.tolist() == [34]  # "3945" in encoding.json
    expected = [7, 91, 0.0031622777, 0.545, 0.050005, 3, 256, 0.5]  # YAHPO's column order
    assert x_cont.tolist() == np.array(expected, dtype=np.float32).tolist()
    again = lcbench.encode(dict(reversed(LCBENCH_DEFAULT.items())), 7)
    assert again[0].tolist() == x_cat.tolist() and again[1].tolist() == x_cont.tolist()


def test_batch_dimension_patch_keeps_predictions() -> None:
    path = yahpo_dir("nb301") / "model.onnx"
    original = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    bench = nb301_benchmark()
    configs = [nb301_space().sample(seed=s) for s in range(3)]
    rows = [bench.encode(c, e) for c, e in zip(configs, (1, 50, 98), strict=True)]
    batched = bench.predict(configs, [1, 50, 98])
    for (x_cat, x_cont), out in zip(rows, batched, strict=True):
        single = original.run(None, {"x_cat": x_cat[None], "x_cont": x_cont[None]})[0][0]
        np.testing.assert_allclose(out, single, rtol=1e-5)
    assert load_session(str(path)) is load_session(str(path))


# -- results -------------------------------------------------------------------------
def test_lcbench_result_shapes_and_ranges(lcbench: SurrogateBenchmark) -> None:
    assert lcbench.default_fidelity == 52.0 and lcbench.fidelities == tuple(
        map(float, range(1, 53))
    )
    result = lcbench.evaluate(LCBENCH_DEFAULT)
    assert set(result.metrics) == LCBENCH_METRICS
    for name in ("valid_accuracy", "valid_balanced_accuracy", "test_balanced_accuracy"):
        assert 0 <= result.metrics[name] <= 100
    assert result.metrics["valid_cross_entropy"] > 0
    assert result.curve is not None and len(result.curve) == 52
    assert result.curve[-1] == result.metrics["valid_accuracy"]
    assert result.cost_s == result.metrics["runtime_s"] > 0
    assert lcbench.truth(LCBENCH_DEFAULT)["final_accuracy"] == pytest.approx(
        result.metrics["valid_accuracy"], rel=1e-5
    )
    assert len(lcbench.evaluate(LCBENCH_DEFAULT, 7).curve or []) == 7


def test_lcbench_tasks_differ_and_default_is_first_in_encoding() -> None:
    default = lcbench_benchmark()
    assert default.instance == "3945"
    accuracies = {
        task: lcbench_benchmark(task=task).truth(LCBENCH_DEFAULT)["final_accuracy"]
        for task in ("126025", "3945", 189873)
    }
    assert len(set(accuracies.values())) == 3
    assert all(0 <= acc <= 100 for acc in accuracies.values())


@pytest.mark.parametrize("make", [lcbench_benchmark, nb301_benchmark])
def test_cost_grows_with_epochs(make: Any) -> None:
    bench = make()
    space = lcbench_space() if bench.scenario.name == "lcbench" else nb301_space()
    top = bench.max_fidelity
    for seed in range(5):
        config = space.sample(seed=seed)
        costs = [r.cost_s for r in bench.evaluate_many([config] * 3, [1, top // 2, top])]
        assert 0 <= costs[0] < costs[1] < costs[2]


def test_nb301_reproduces_the_published_orders_of_magnitude() -> None:
    # shared/data README: epochs 1/10/50/98 give about 39/72/90/95 % and 438/632/3387/6840 s
    nb301 = nb301_benchmark(with_curve=False)
    configs = [nb301_space().sample(seed=s) for s in range(100)]
    for epoch, acc, cost in ((1, 39, 438), (10, 72, 632), (50, 90, 3387), (98, 95, 6840)):
        results = nb301.evaluate_many(configs, [epoch] * len(configs))
        mean_acc = np.mean([r.metrics["valid_accuracy"] for r in results])
        mean_cost = np.mean([r.cost_s for r in results])
        assert abs(mean_acc - acc) < 5, (epoch, mean_acc)
        assert cost / 2 < mean_cost < cost * 2, (epoch, mean_cost)


def test_nb301_default_config_figures(nb301: SurrogateBenchmark) -> None:
    figures = [nb301.evaluate(NB301_DEFAULT, e) for e in (1, 10, 50, 98)]
    accs = [r.metrics["valid_accuracy"] for r in figures]
    costs = [r.cost_s for r in figures]
    assert accs == pytest.approx([45.25, 72.59, 88.19, 94.04], abs=0.05)
    assert costs == pytest.approx([74.1, 224.4, 1384.6, 3175.8], rel=1e-3)
    assert figures[-1].curve == pytest.approx(nb301.evaluate(NB301_DEFAULT).curve)
    assert nb301.truth(NB301_DEFAULT)["final_accuracy"] == pytest.approx(accs[-1], rel=1e-5)


def test_batched_and_curveless_queries_agree(nb301: SurrogateBenchmark) -> None:
    configs = [nb301_space().sample(seed=s) for s in range(4)]
    fidelities = [3, 98, 20, 1]
    batched = nb301.evaluate_many(configs, fidelities)
    fast = nb301_benchmark(with_curve=False).evaluate_many(configs, fidelities)
    for config, fid, many, flat in zip(configs, fidelities, batched, fast, strict=True):
        one = nb301.evaluate(config, fid)
        assert many.metrics == pytest.approx(one.metrics, rel=1e-5)
        assert many.curve == pytest.approx(one.curve, rel=1e-5) and len(many.curve or []) == fid
        assert flat.curve is None and flat.metrics == pytest.approx(one.metrics, rel=1e-5)
    assert nb301.evaluate_many([]) == []


# -- errors --------------------------------------------------------------------------
def test_unknown_task_is_refused_with_the_allowed_ids() -> None:
    with pytest.raises(
        ConfigError, match=r"task: unknown OpenML_task_id .42.; allowed: 3945, 7593"
    ):
        lcbench_benchmark(task="42")
    with pytest.raises(ConfigError, match=r"benchmark\.task: unknown"):
        BENCHMARKS.create("lcbench", {"task": 1}, field="benchmark")


@pytest.mark.parametrize("fidelity", [0, 53, 2.5, "10", True, math.nan])
def test_fidelity_out_of_range_is_refused(lcbench: SurrogateBenchmark, fidelity: Any) -> None:
    with pytest.raises(
        ConfigError, match=r"fidelity: must be a whole number of epochs in \[1, 52\]"
    ):
        lcbench.evaluate(LCBENCH_DEFAULT, fidelity)
    with pytest.raises(ConfigError, match=r"fidelity: .* in \[1, 98\], got 99"):
        nb301_benchmark(fidelity=99)


def test_lcbench_value_out_of_bounds_is_refused(lcbench: SurrogateBenchmark) -> None:
    with pytest.raises(ConfigError, match=r"batch_size: must be in \[16, 512\], got 1000"):
        lcbench.evaluate({**LCBENCH_DEFAULT, "batch_size": 1000})


def _scenario_copy(folder: Path, model: bytes | None) -> Path:
    """A scenario folder with the shipped NB301 JSON files and ``model`` as model.onnx."""
    folder.mkdir()
    for name in ("config_space.json", "encoding.json"):
        shutil.copy(yahpo_dir("nb301") / name, folder / name)
    if model is not None:
        (folder / "model.onnx").write_bytes(model)
    return folder


def test_missing_or_corrupt_files_raise_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"model\.onnx: surrogate model not found"):
        SurrogateBenchmark(NB301, path=_scenario_copy(tmp_path / "a", None))
    corrupt = _scenario_copy(tmp_path / "b", b"\x0a\xff\xff not an onnx model")
    with pytest.raises(DataError, match=r"model\.onnx: not a loadable ONNX model"):
        SurrogateBenchmark(NB301, path=corrupt)
    lcbench_model = (yahpo_dir("lcbench") / "model.onnx").read_bytes()
    wrong = _scenario_copy(tmp_path / "c", lcbench_model)
    with pytest.raises(DataError, match=r"model\.onnx: model takes/returns widths \[1, 8, 6\]"):
        SurrogateBenchmark(NB301, path=wrong)
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "config_space.json").write_text("{not json")
    with pytest.raises(DataError, match=r"config_space\.json: not a readable JSON file"):
        SurrogateBenchmark(NB301, path=tmp_path / "d")


# -- property: sampled configs evaluate ----------------------------------------------
@pytest.mark.parametrize("name", ["lcbench", "nb301"])
def test_sampled_and_mutated_configs_evaluate(name: str) -> None:
    space = SPACES[name]()
    bench = BENCHMARKS.create(name, {"fidelity": 5}, field="benchmark")
    rng = random.Random(0)
    for seed in range(40):
        config = space.sample(seed=seed)
        for candidate in (config, space.mutate(config, rng)):
            assert space.validate(candidate) == candidate
            result = bench.evaluate(candidate)
            assert len(result.curve) == 5 and result.cost_s >= 0
            assert all(math.isfinite(v) for v in result.metrics.values())
            assert 0 <= result.metrics["valid_accuracy"] <= 100
