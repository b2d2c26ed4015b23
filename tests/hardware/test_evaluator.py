"""The ``nahas`` and ``accelerator_cost`` evaluators, and a joint search through them."""

from __future__ import annotations

import random

import pytest

from archsearch.errors import ConfigError
from archsearch.evaluation import NB201Benchmark
from archsearch.experiment import build_experiment, normalize_spec
from archsearch.hardware import (
    AcceleratorBenchmark,
    AcceleratorCostEvaluator,
    accelerator_from_config,
    accelerator_joint_space,
    nb201_layers,
    network_cost,
)
from archsearch.registry import BENCHMARKS
from archsearch.spaces.nb201 import EDGES
from archsearch.trial import Candidate, Result, TrialStatus


def test_metrics_are_the_table_accuracy_and_the_models_cost() -> None:
    bench, table = AcceleratorBenchmark(), NB201Benchmark(fidelity=200)
    rng = random.Random(0)
    space = accelerator_joint_space()
    for _ in range(5):
        config = space.sample(rng)
        result = bench.evaluate(config)
        truth = table.evaluate(config["arch"])
        assert result.metrics["valid_accuracy"] == truth.metrics["valid_accuracy"]
        assert result.cost_s == truth.cost_s
        cost = network_cost(
            nb201_layers(config["arch"]), accelerator_from_config(config["hardware"])
        )
        assert result.metrics["latency_ms"] == cost.latency_ms
        assert result.metrics["energy_uj"] == cost.energy_uj
        assert bench.estimate(config) == {"area_mm2": cost.area_mm2}
        assert bench.truth(config) == table.truth(config["arch"])
    low = bench.evaluate(config, 12).metrics["valid_accuracy"]
    assert low == table.evaluate(config["arch"], 12).metrics["valid_accuracy"]


def test_the_same_network_is_faster_on_a_larger_array() -> None:
    bench = AcceleratorBenchmark()
    arch = accelerator_joint_space().sample(seed=0)["arch"]
    arch = {**arch, "edge_0_3": "nor_conv_3x3"}  # some compute in every cell
    hw = {"rows": 8, "cols": 8, "pe_buffer": 1, "glb_kib": 256, "dataflow": "ws"}
    small = bench.evaluate({"arch": arch, "hardware": hw}).metrics
    large = bench.evaluate({"arch": arch, "hardware": {**hw, "rows": 32, "cols": 32}}).metrics
    assert large["latency_ms"] < small["latency_ms"]
    assert large["area_mm2"] > small["area_mm2"]


def test_bad_configs_name_the_field() -> None:
    bench = BENCHMARKS["nahas"]()
    with pytest.raises(ConfigError, match="config: expected"):
        bench.evaluate({"edge_0_1": "none"})
    config = accelerator_joint_space().sample(seed=0)
    with pytest.raises(ConfigError, match="hardware.dataflow"):
        bench.evaluate({**config, "hardware": {**config["hardware"], "dataflow": "rs"}})
    with pytest.raises(ConfigError, match="channels"):
        AcceleratorBenchmark(channels=0)


def test_joint_nsga2_search_respects_the_area_budget() -> None:
    seen: list[Result] = []

    def collect(candidate: Candidate, result: Result, clock: float) -> None:
        seen.append(result)

    spec = normalize_spec(
        {
            "space": "hardware_joint",
            "benchmark": "nahas",
            "strategy": {"name": "nsga2", "population_size": 10},
            "seed": 0,
            "budget": {"trials": 40},
            "objective": {
                "metrics": {"valid_accuracy": "max", "latency_ms": "min", "energy_uj": "min"},
                "constraints": {"area_mm2": 1.0},
            },
        }
    )
    summary = build_experiment(spec, store=None, name="nahas", on_trial_end=collect).run()
    complete = [r for r in seen if r.status is TrialStatus.COMPLETE]
    assert len(complete) == 40
    assert all(r.metrics["area_mm2"] <= 1.0 for r in complete)
    assert all(r.scores is not None and len(r.scores) == 3 for r in complete)
    assert any(r.status is TrialStatus.INFEASIBLE for r in seen)  # early exits on area
    assert summary.best_metrics["area_mm2"] <= 1.0


def test_cost_evaluator_costs_any_builder() -> None:
    evaluator = BENCHMARKS.create("accelerator_cost", {"space": "cnn"}, field="benchmark")
    assert isinstance(evaluator, AcceleratorCostEvaluator)
    from archsearch.spaces import cnn_space

    arch = cnn_space().sample(seed=0)
    hw = {"rows": 16, "cols": 16, "pe_buffer": 4, "glb_kib": 128, "dataflow": "os"}
    metrics = evaluator.evaluate({"arch": arch, "hardware": hw}).metrics
    assert metrics["macs_m"] > 0 and metrics["latency_ms"] > 0
    assert metrics["area_mm2"] == accelerator_from_config(hw).area_mm2


def test_network_cost_depends_on_a_cell_only_through_its_conv_counts() -> None:
    # the premise of benchmarks/nahas.py's exact front
    bench = AcceleratorBenchmark()
    hw = {"rows": 8, "cols": 16, "pe_buffer": 4, "glb_kib": 64, "dataflow": "os"}
    ops = ["nor_conv_3x3", "nor_conv_1x1", "skip_connect", "none", "avg_pool_3x3", "none"]
    a = dict(zip(EDGES, ops, strict=True))
    b = dict(zip(EDGES, ops[::-1], strict=True))
    c = {**a, "edge_0_1": "nor_conv_1x1"}
    cost = [bench.cost({"arch": x, "hardware": hw}) for x in (a, b, c)]
    assert cost[0].latency_ms == cost[1].latency_ms and cost[0].energy_uj == cost[1].energy_uj
    assert cost[2].latency_ms < cost[0].latency_ms
