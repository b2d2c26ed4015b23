"""Objectives: constraints, the MnasNet reward, multi-objective vectors."""

from __future__ import annotations

import pytest

from archsearch.errors import ConfigError
from archsearch.experiment import build_experiment, normalize_spec
from archsearch.objectives import (
    Constraint,
    MnasNetReward,
    MultiObjective,
    Objective,
    objective_from_spec,
)
from archsearch.store import MemoryStore
from archsearch.trial import TrialStatus


def test_constraint_makes_a_trial_infeasible_not_scored() -> None:
    objective = Objective("acc", constraints=(Constraint("latency_ms", 5.0),))
    assert objective.judge({"acc": 90.0, "latency_ms": 4.0}).score == 90.0
    verdict = objective.judge({"acc": 95.0, "latency_ms": 6.0})
    assert verdict.score is None and verdict.infeasible == "latency_ms = 6 > 5 (budget)"


def test_mnasnet_reward_soft_and_hard() -> None:
    soft = MnasNetReward("acc", "lat", target=10.0)
    assert soft.score({"acc": 80.0, "lat": 10.0}) == pytest.approx(80.0)
    assert soft.score({"acc": 80.0, "lat": 20.0}) == pytest.approx(80.0 * 2**-0.07)
    assert soft.score({"acc": 80.0, "lat": 5.0}) == pytest.approx(80.0 * 0.5**-0.07)
    hard = MnasNetReward("acc", "lat", target=10.0, alpha=0.0, beta=-1.0)
    assert hard.score({"acc": 80.0, "lat": 5.0}) == pytest.approx(80.0)
    over = hard.judge({"acc": 80.0, "lat": 20.0})
    assert over.score == pytest.approx(40.0) and not over.eligible


def test_multi_objective_vector_negates_minimised_metrics() -> None:
    objective = objective_from_spec({"metrics": {"acc": "max", "lat": "min"}}, None)
    assert isinstance(objective, MultiObjective)
    assert objective.judge({"acc": 90.0, "lat": 3.0}).scores == (90.0, -3.0)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"metrics": {"acc": "up"}}, "objective.metrics.acc: must be 'max' or 'min'"),
        ({"type": "pareto"}, "objective.type: unknown 'pareto'"),
        ({"target": 5}, "objective.latency: required"),
        ({"metric": "acc", "constraints": [{"metric": "lat"}]}, r"objective.constraints\[0\]"),
        ({"metric": "acc", "goal": 1}, "objective.goal: unknown field"),
    ],
)
def test_bad_objective_specs_name_the_field(spec: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        objective_from_spec(spec, "acc")


def test_infeasible_trials_are_stored_as_such_and_never_returned() -> None:
    store = MemoryStore()
    spec = normalize_spec(
        {
            "strategy": "random",
            "seed": 1,
            "budget": {"trials": 60},
            "benchmark": {"name": "nb201", "dataset": "cifar10", "device": "pixel3"},
            "objective": {"metric": "valid_accuracy", "constraints": {"latency_ms": 8.0}},
        }
    )
    summary = build_experiment(spec, store=store, name="c").run()
    record = store.find_experiment("c")
    infeasible = store.trials(record.id, state=TrialStatus.INFEASIBLE)
    assert infeasible and all(t.metrics["latency_ms"] > 8.0 for t in infeasible)
    assert all(t.score is None and t.error.startswith("infeasible:") for t in infeasible)
    assert summary.best_metrics["latency_ms"] <= 8.0
    # the latency is known from the table: infeasible cells exit early, unevaluated and
    # not counted against the 60 trials
    assert summary.extra["early_exits"] == len(infeasible)
    assert summary.n_trials == 60
    assert all(
        t.error.endswith("(early exit)") and "valid_accuracy" not in t.metrics for t in infeasible
    )


def test_nsga2_beats_random_on_hypervolume() -> None:
    import numpy as np

    from archsearch.analysis import hypervolume

    def volume(strategy: str, seed: int) -> float:
        points = []
        spec = normalize_spec(
            {
                "strategy": strategy,
                "seed": seed,
                "budget": {"trials": 300},
                "benchmark": {
                    "name": "nb201",
                    "dataset": "cifar10",
                    "fidelity": 200,
                    "device": "pixel3",
                },
                "objective": {"metrics": {"valid_accuracy": "max", "latency_ms": "min"}},
            }
        )
        build_experiment(
            spec, store=None, name="mo", on_trial_end=lambda c, r, t: points.append(r.scores)
        ).run()
        return hypervolume(np.array(points), (80.0, -20.0))

    nsga = np.mean([volume("nsga2", s) for s in range(3)])
    rand = np.mean([volume("random", s) for s in range(3)])
    assert nsga > rand
