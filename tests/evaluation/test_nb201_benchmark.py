"""NB201Benchmark: table look-ups, ground truth, and the simulated training clock."""

from __future__ import annotations

import numpy as np
import pytest

from archsearch.errors import ConfigError, DataError
from archsearch.evaluation import NB201Benchmark, load_nb201_table, training_time_s
from archsearch.evaluation._nb201 import (
    CALIBRATION,
    COST_INTERCEPT,
    COST_SLOPE,
    DATASET_COST_FACTOR,
    MIN_EPOCH_S,
)
from archsearch.registry import BENCHMARKS
from archsearch.spaces.nb201 import EDGES, cell_from_index, from_arch_str

# The ResNet cell of the NB201 paper: x -> conv -> conv, plus the skip from x.
RESNET = "|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|skip_connect~2|"
BEST_CIFAR10 = (
    "|nor_conv_3x3~0|+|nor_conv_1x1~0|nor_conv_3x3~1|"
    "+|skip_connect~0|nor_conv_1x1~1|nor_conv_3x3~2|"
)

# Rows copied from nb201_merged.csv (the table's source):
# nb201_index, arch_str, 200-epoch accuracy (c10, c100, in16), 12-epoch (valid, test) per dataset
CSV_ROWS = [
    (
        0,
        "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|",
        (81.9, 53.68, 25.7667),
        {
            "cifar10": (63.364, 69.55),
            "cifar100": (31.84, 31.26),
            "imagenet16-120": (18.4667, 17.0),
        },
    ),
    (
        11,
        "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|none~0|nor_conv_3x3~1|avg_pool_3x3~2|",
        (87.96, 67.68, 30.9667),
        {
            "cifar10": (63.278, 74.0),
            "cifar100": (33.64, 32.76),
            "imagenet16-120": (15.6667, 14.7333),
        },
    ),
    (
        1601,
        "|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|none~2|",
        (84.23, 58.62, 28.1),
        {"cifar10": (73.266, 79.4), "cifar100": (45.2, 44.16), "imagenet16-120": (22.6, 22.9333)},
    ),
    (
        7777,
        "|nor_conv_3x3~0|+|skip_connect~0|skip_connect~1|+|avg_pool_3x3~0|nor_conv_3x3~1|skip_connect~2|",
        (85.6, 65.36, 38.8),
        {
            "cifar10": (69.078, 76.45),
            "cifar100": (38.7, 38.82),
            "imagenet16-120": (24.6667, 23.9667),
        },
    ),
    (
        11472,
        RESNET,
        (90.66, 70.86, 43.6333),
        {
            "cifar10": (83.742, 87.95),
            "cifar100": (58.96, 58.34),
            "imagenet16-120": (35.2333, 34.5667),
        },
    ),
    (
        15624,
        "|nor_conv_1x1~0|+|none~0|nor_conv_1x1~1|+|none~0|nor_conv_1x1~1|nor_conv_1x1~2|",
        (83.68, 55.48, 17.7),
        {
            "cifar10": (55.762, 66.67),
            "cifar100": (25.28, 25.36),
            "imagenet16-120": (13.4333, 13.2667),
        },
    ),
]
DATASETS = ("cifar10", "cifar100", "imagenet16-120")

# COST_MODEL.md: recorded NATS-Bench times (seconds) for nb201_index 0, 11, 284
RECORDED_200_CIFAR10_VALID = {17.2553: 1444.2, 29.3952: 2492.4, 12.6435: 975.2}
RECORDED_12_CIFAR10_FULL = {17.2553: 173.3, 29.3952: 299.1, 12.6435: 117.0}


# -- published and table figures --------------------------------------------------------


def test_resnet_cell_has_the_published_200_epoch_accuracies() -> None:
    config = from_arch_str(RESNET)
    assert NB201Benchmark(dataset="cifar100").truth(config)["final_accuracy"] == pytest.approx(
        70.86, abs=0.01
    )
    assert NB201Benchmark(dataset="imagenet16-120").truth(config)[
        "final_accuracy"
    ] == pytest.approx(43.63, abs=0.01)


def test_best_cifar10_cell_has_rank_one() -> None:
    bench = NB201Benchmark(dataset="cifar10")
    truth = bench.truth(from_arch_str(BEST_CIFAR10))
    assert truth["final_accuracy"] == pytest.approx(91.57, abs=1e-6)
    assert truth["rank"] == 1
    assert truth["nb201_index"] == 1459
    finals = [bench.truth(cell_from_index(i))["final_accuracy"] for i in range(15_625)]
    assert max(finals) == pytest.approx(91.57, abs=1e-6)
    assert finals.count(max(finals)) == 1


def test_rank_counts_strictly_better_cells_and_ties_share_a_rank() -> None:
    bench = NB201Benchmark(dataset="cifar100")
    truths = [bench.truth(cell_from_index(i)) for i in range(15_625)]
    finals = np.array([t["final_accuracy"] for t in truths])
    ranks = np.array([t["rank"] for t in truths])
    better = np.sort(finals)
    expected = len(finals) - np.searchsorted(better, finals, side="right") + 1
    np.testing.assert_array_equal(ranks, expected)
    # the table does have ties, and tied cells share their rank
    values, counts = np.unique(finals, return_counts=True)
    tied = values[counts > 1][0]
    assert len(set(ranks[finals == tied])) == 1
    assert ranks.min() == 1
    assert ranks[finals == finals.min()].min() == 1 + np.sum(finals > finals.min())


@pytest.mark.parametrize(("official", "arch", "final", "at_12"), CSV_ROWS)
def test_table_matches_csv_rows(
    official: int, arch: str, final: tuple[float, ...], at_12: dict[str, tuple[float, float]]
) -> None:
    config = from_arch_str(arch)
    for dataset, acc_200 in zip(DATASETS, final, strict=True):
        bench = NB201Benchmark(dataset=dataset)
        assert bench.official_index(config) == official
        truth = bench.truth(config)
        assert truth["nb201_index"] == official
        assert truth["final_accuracy"] == pytest.approx(acc_200, abs=1e-3)
        result = bench.evaluate(config, 12)
        assert result.metrics["valid_accuracy"] == pytest.approx(at_12[dataset][0], abs=1e-3)
        assert result.metrics["test_accuracy"] == pytest.approx(at_12[dataset][1], abs=1e-3)


def test_official_index_is_a_permutation_of_all_cells() -> None:
    bench = NB201Benchmark()
    official = [bench.official_index(cell_from_index(i)) for i in range(15_625)]
    assert sorted(official) == list(range(15_625))


# -- evaluate --------------------------------------------------------------------------


@pytest.mark.parametrize("dataset", DATASETS)
def test_evaluate_at_12_and_200_epochs_returns_the_right_columns(dataset: str) -> None:
    bench = NB201Benchmark(dataset=dataset)
    config = from_arch_str(RESNET)
    at_12 = bench.evaluate(config, 12)
    at_200 = bench.evaluate(config, 200)
    assert set(at_12.metrics) == {"valid_accuracy", "test_accuracy"}
    assert set(at_200.metrics) == {"valid_accuracy", "test_accuracy"}
    final = bench.truth(config)["final_accuracy"]
    assert at_200.metrics["valid_accuracy"] == final
    assert at_200.metrics["test_accuracy"] == final
    assert at_12.metrics["valid_accuracy"] < final
    assert at_12.status == "complete"
    assert at_12.score is None
    assert at_12.cost_s > 0
    assert at_200.cost_s == pytest.approx(at_12.cost_s * 200 / 12, rel=1e-12)
    # no fidelity: the default (12)
    assert bench.evaluate(config) == at_12


def test_default_fidelity_200() -> None:
    config = from_arch_str(RESNET)
    bench = NB201Benchmark(dataset="cifar100", fidelity=200)
    assert bench.default_fidelity == 200
    assert bench.evaluate(config) == bench.evaluate(config, 200)
    assert bench.evaluate(config).metrics["valid_accuracy"] == pytest.approx(70.86, abs=0.01)
    assert bench.evaluate(config, 12) == NB201Benchmark(dataset="cifar100").evaluate(config, 12)


def test_benchmark_is_registered_and_describes_cells() -> None:
    assert BENCHMARKS["nb201"] is NB201Benchmark
    bench = NB201Benchmark()
    assert bench.describe(from_arch_str(RESNET)) == RESNET
    assert bench.fidelities == (12.0, 200.0)


@pytest.mark.parametrize("dataset", ["cifar-10", "imagenet", "", "CIFAR10"])
def test_unknown_dataset_raises_config_error(dataset: str) -> None:
    with pytest.raises(ConfigError, match=rf"^dataset: unknown '{dataset}'; allowed: cifar10"):
        NB201Benchmark(dataset=dataset)


@pytest.mark.parametrize("fidelity", [0, 1, 50, 108])
def test_unknown_fidelity_raises_config_error(fidelity: int) -> None:
    with pytest.raises(ConfigError, match=r"^fidelity: must be 12 or 200"):
        NB201Benchmark(fidelity=fidelity)
    with pytest.raises(ConfigError, match=r"^fidelity: NB201 has 12 and 200 epochs"):
        NB201Benchmark().evaluate(from_arch_str(RESNET), fidelity)


def test_bad_config_raises_config_error_naming_the_edge() -> None:
    bench = NB201Benchmark()
    config = from_arch_str(RESNET)
    with pytest.raises(ConfigError, match=r"^edge_1_2: unknown op 'conv'"):
        bench.evaluate({**config, "edge_1_2": "conv"})
    with pytest.raises(ConfigError, match=r"^edge_2_3: missing"):
        bench.truth({e: config[e] for e in EDGES[:-1]})


def test_missing_table_raises_data_error(tmp_path: object) -> None:
    missing = f"{tmp_path}/nope.npz"
    with pytest.raises(DataError, match=r"NB201 table not found at .*nope\.npz"):
        load_nb201_table(missing)


# -- the cost model --------------------------------------------------------------------


@pytest.mark.parametrize(("latency_ms", "recorded_s"), CALIBRATION)
def test_cost_model_reproduces_each_calibration_point_within_4_percent(
    latency_ms: float, recorded_s: float
) -> None:
    predicted = float(training_time_s(latency_ms, "cifar10", 12))
    assert predicted == pytest.approx(recorded_s, rel=0.04)
    assert float(training_time_s(latency_ms, "cifar10", 200)) == pytest.approx(
        RECORDED_200_CIFAR10_VALID[latency_ms], rel=0.04
    )
    # cifar100 trains on 50k images like full cifar10: twice cifar10-valid's time
    assert float(training_time_s(latency_ms, "cifar100", 12)) == pytest.approx(
        RECORDED_12_CIFAR10_FULL[latency_ms], rel=0.04
    )


def test_cost_model_is_the_stated_line() -> None:
    # COST_MODEL.md: time_12ep ~= 5.43 * lat - 10.1; the code fits its own line through the
    # three calibration points, which must stay close to that
    assert abs(COST_SLOPE - 5.43) < 0.1
    assert abs(COST_INTERCEPT + 10.1) < 2.5
    for latency in (12.0, 20.0, 30.0):
        assert float(training_time_s(latency, "cifar10", 12)) == pytest.approx(
            COST_SLOPE * latency + COST_INTERCEPT, rel=1e-12
        )


@pytest.mark.parametrize("latency_ms", [12.6435, 17.2553, 29.3952])
def test_cost_scales_with_epochs_and_dataset_factor(latency_ms: float) -> None:
    base = float(training_time_s(latency_ms, "cifar10", 12))
    assert float(training_time_s(latency_ms, "cifar10", 200)) == pytest.approx(
        base * 200 / 12, rel=1e-12
    )
    assert float(training_time_s(latency_ms, "cifar10", 1)) == pytest.approx(base / 12, rel=1e-12)
    assert DATASET_COST_FACTOR == {"cifar10": 1.0, "cifar100": 2.0, "imagenet16-120": 3.8}
    for dataset, factor in DATASET_COST_FACTOR.items():
        for epochs in (12, 200):
            assert float(training_time_s(latency_ms, dataset, epochs)) == pytest.approx(
                base * epochs / 12 * factor, rel=1e-12
            )


def test_cost_has_a_floor_per_epoch_and_accepts_arrays() -> None:
    assert float(training_time_s(0.0, "cifar10", 12)) == pytest.approx(12 * MIN_EPOCH_S)
    assert float(training_time_s(0.0, "imagenet16-120", 200)) == pytest.approx(
        200 * MIN_EPOCH_S * 3.8
    )
    latencies = np.array([p[0] for p in CALIBRATION])
    times = training_time_s(latencies, "cifar10", 12)
    assert times.shape == (3,)
    np.testing.assert_allclose(
        times, [float(training_time_s(x, "cifar10", 12)) for x in latencies], rtol=1e-12
    )


@pytest.mark.parametrize("dataset", DATASETS)
def test_benchmark_charges_the_cost_model_for_the_calibration_cells(dataset: str) -> None:
    # nb201_index 0, 11 and 284 are the calibration cells
    archs = {
        0: CSV_ROWS[0][1],
        11: CSV_ROWS[1][1],
        284: "|skip_connect~0|+|skip_connect~0|skip_connect~1|+|none~0|nor_conv_1x1~1|none~2|",
    }
    bench = NB201Benchmark(dataset=dataset)
    for (latency_ms, _), official in zip(CALIBRATION, (0, 11, 284), strict=True):
        config = from_arch_str(archs[official])
        assert bench.official_index(config) == official
        expected_12 = float(training_time_s(latency_ms, dataset, 12))
        assert bench.evaluate(config, 12).cost_s == pytest.approx(expected_12, rel=1e-6)
        assert bench.evaluate(config, 200).cost_s == pytest.approx(
            expected_12 * 200 / 12, rel=1e-6
        )
