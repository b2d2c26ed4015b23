"""Strategy comparison under the NATS-Bench protocol."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from archsearch.cli import main
from archsearch.errors import ConfigError
from archsearch.experiment import compare


def test_compare_matches_individual_runs_and_is_seeded() -> None:
    result = compare(
        benchmark="nb201", dataset="cifar10", strategies=["rea", "random"], runs=6, jobs=1
    )
    again = compare(
        benchmark="nb201", dataset="cifar10", strategies=["rea", "random"], runs=6, jobs=2
    )
    for name in ("rea", "random"):
        stats = result["results"][name]
        assert stats["runs"] == 6
        assert 85 < stats["mean"] <= 91.57
        assert 100 < stats["mean_queries"] < 300
        assert stats == again["results"][name]  # processes do not change results
        curve = [v for v in stats["anytime_mean"] if v is not None]
        # the incumbent is chosen by reward, so its truth may dip, but the search improves
        assert curve[0] < curve[-1]
        assert curve[-1] == pytest.approx(stats["mean"])


def test_more_workers_same_budget_still_counts_time() -> None:
    one = compare(benchmark="nb201", dataset="cifar10", strategies=["random"], runs=4, jobs=1)
    four = compare(
        benchmark="nb201", dataset="cifar10", strategies=["random"], runs=4, workers=4, jobs=1
    )
    # four simulated workers complete about four times the queries in the same time
    ratio = four["results"]["random"]["mean_queries"] / one["results"]["random"]["mean_queries"]
    assert 3.5 < ratio < 4.1


def test_compare_rejects_unknown_strategy() -> None:
    with pytest.raises(ConfigError, match="strategies: unknown strategy 'evo'"):
        compare(benchmark="nb201", dataset="cifar10", strategies=["evo"], runs=2)


def test_cli_compare_writes_json_and_plot(tmp_path: Path, capsys: Any) -> None:
    out, png = tmp_path / "c.json", tmp_path / "c.png"
    code = main(
        [
            "compare",
            "--strategies",
            "rea,random",
            "--runs",
            "4",
            "--jobs",
            "1",
            "--dataset",
            "cifar100",
            "--json",
            str(out),
            "--plot",
            str(png),
        ]
    )
    assert code == 0
    data = json.loads(out.read_text())
    assert set(data["results"]) == {"rea", "random"}
    assert data["budget_seconds"] == 40000
    assert {"mean", "std", "runs", "mean_queries"} <= set(data["results"]["rea"])
    assert data["wall_seconds"] > 0
    assert png.stat().st_size > 10_000
    assert "rea" in capsys.readouterr().out


def test_promotions_on_a_resumable_benchmark_pay_only_the_added_epochs() -> None:
    from archsearch.evaluation._yahpo import lcbench_benchmark
    from archsearch.experiment import SimulatedExecutor
    from archsearch.spaces import lcbench_space
    from archsearch.trial import Candidate

    bench = lcbench_benchmark(task="3945", with_curve=False)
    config = lcbench_space().sample(seed=1)
    executor = SimulatedExecutor()
    executor.open(bench)
    costs = []
    for number, fidelity in enumerate((3, 9, 9, 52)):
        executor.submit(Candidate(number, config, float(fidelity)))
        costs.append(executor.next_done()[1].cost_s)
    full = {f: bench.evaluate(config, f).cost_s for f in (3, 9, 52)}
    assert costs[0] == pytest.approx(full[3])
    assert costs[1] == pytest.approx(full[9] - full[3])  # resumed from epoch 3
    assert costs[2] == pytest.approx(full[9])  # the same fidelity again: a new run
    assert costs[3] == pytest.approx(full[52] - full[9])


def test_lcbench_multifidelity_beats_random_early() -> None:
    result = compare(
        benchmark="lcbench",
        dataset="3945",
        strategies=["random", "asha"],
        runs=6,
        budget_s=9000,
        jobs=1,
        benchmark_options={"with_curve": False},
    )
    random_final = result["results"]["random"]["anytime_mean"][-1]
    asha = result["results"]["asha"]["anytime_mean"]
    reached = next(i for i, v in enumerate(asha) if v is not None and v >= random_final)
    assert reached <= len(asha) // 3
